"""Model validation: evaluation with intervals, uncertainty and calibration, bias metrics,
explanations, and the validation report (see docs/validation.md)."""
