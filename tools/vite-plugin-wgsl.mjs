/**
 * Shaders are imported as text (`shaders/*.wgsl?raw`) and inlined in the bundle. Their comments
 * explain the kernels to people reading the files, not to the GPU: the bundle gets them without
 * comments and blank lines (8 kB less of the 19 kB of WGSL). `debug: true` prints what the GPU
 * compiles; the commented source is in shaders/.
 */
export function wgslPlugin() {
  return {
    name: 'resgpu-wgsl-strip',
    enforce: 'post',
    apply: 'build',
    transform(code, id) {
      if (!/\.wgsl\?raw$/.test(id)) return null;
      const text = JSON.parse(code.replace(/^export default /, '').replace(/;\s*$/, ''));
      const stripped = text
        .split('\n')
        .map((line) => line.replace(/\/\/.*$/, '').trimEnd())
        .filter((line) => line.trim() !== '')
        .join('\n');
      return { code: `export default ${JSON.stringify(stripped)};`, map: null };
    },
  };
}
