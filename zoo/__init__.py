"""The run machinery shared by train.py and evaluate.py: config, run dirs, training, evaluation."""
