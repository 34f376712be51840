"""NetBuilder: build convolutional networks visually, see every shape, train them live."""

__version__ = "0.1.0"
