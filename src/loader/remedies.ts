/** What to do with a whole pickled model or a TorchScript file: say it once, use it where either is recognised. */
export const WHOLE_MODEL_REMEDY =
  "resgpu reads state_dicts: save one with torch.save(model.state_dict(), path) (and pass the graph, or use the seed's " +
  'ResidualBlock names), or export the model with tools/export_resgpu.py or torch.onnx.export, which record its graph.';
