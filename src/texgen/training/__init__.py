"""The training stage: data (tiles, splits, crops), the training loop (resume, signals, compile, DDP), tokenizer
training on the same loop's schedule, palette fitting and model summaries. The model itself is
``texgen.models`` (leaves); generation with a trained model is ``texgen.generate``."""
