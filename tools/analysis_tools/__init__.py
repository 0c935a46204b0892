"""Analysis tools, each also a command (``python tools/analysis_tools/
<name>.py``): training curves from mmengine logs (plot_curves), the speed
benchmark (benchmark_speed), conv weight norms against a fresh
initialisation (weight_norms) and the WeightNormMonitorHook plots
(plot_weight_norms). ``tools/`` is not a package: tools/reproduce.py and the
tests put ``tools/`` on ``sys.path`` and import ``analysis_tools``."""
