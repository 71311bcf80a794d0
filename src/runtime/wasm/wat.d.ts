/** `*.wat` imports, assembled at build time by tools/vite-plugin-wat.mjs: each variant's bytes, base64. */
declare module '*.wat' {
  const variants: {
    relaxed: { shared: string; unshared: string };
    plain: { shared: string; unshared: string };
  };
  export default variants;
}
