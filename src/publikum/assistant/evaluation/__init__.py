"""Evaluation of the assistant: cases in YAML (`cases`), their run (`runner`), the figures
(`metrics`), the threshold calibration (`calibrate`) and the command (`cli`).
See docs/assistant-evaluation.md."""
