"""The reference pipeline on the abalone data: preprocess, train, evaluate, check the MSE, register."""
