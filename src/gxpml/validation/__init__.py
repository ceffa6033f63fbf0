"""Model validation: evaluation with intervals, uncertainty and calibration, bias metrics,
explanations, and the validation report (see docs/validation.md).

One module per concept: ``metrics`` (evaluation, bootstrap intervals, subgroups,
non-inferiority), ``criteria`` (acceptance criteria: parse, lock digest, judge),
``calibration`` (ECE, temperature scaling, isotonic), ``uncertainty`` (conformal prediction,
ensembles, MC dropout), ``bias`` (Clarify's metrics), ``explain`` (SHAP, LIME,
counterfactuals, global explanations, stability), ``report`` (the report document),
``validate`` (the whole validation of a run's model), ``service`` (the record of it).

The package imports nothing itself (the workspace loads ``validation.tables`` on every
start); import from the modules, or use ``gxpml.validate``.
"""
