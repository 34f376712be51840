"""A graph whose output no trainable parameter feeds is refused before training, with the
analysis's words (torch would fail in backward: "element 0 of tensors does not require grad")."""

from __future__ import annotations

import pytest

from netbuilder.core.graph import Graph
from netbuilder.training.config import TrainConfig
from netbuilder.training.errors import TrainingError
from netbuilder.training.trainer import Trainer


def weights_beside_the_output() -> Graph:
    """A conv with weights hangs off the input, but the output reads only a flatten."""
    graph = Graph()
    graph.chain(("input", "input", {"shape": (1, 8, 8)}), ("flatten", "flatten", {}),
                ("output", "output", {}))
    graph.add("conv2d", "side", after=graph.by_name("input"), out_channels=4, kernel_size=3)
    return graph


def test_training_a_parameter_free_graph_is_refused_with_the_analysis_message() -> None:
    trainer = Trainer(weights_beside_the_output(), TrainConfig.from_dict({"dataset": "digits",
                                                               "epochs": 1}))
    with pytest.raises(TrainingError, match="no trainable parameter feeds this output"):
        trainer.fit()
