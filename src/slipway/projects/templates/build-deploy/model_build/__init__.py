"""The model-build pipeline of this project: preprocess, train, evaluate, check the MSE, register."""
