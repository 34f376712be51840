"""Template tests run torch on one thread.

Their forward passes use batches of one or two samples, where intra-op threads gain
little, while a second thread that has to wait for a busy core (a CI machine running
other jobs) can make a pass ten times slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
