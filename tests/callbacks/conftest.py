import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Micro models gain nothing from threads, and the CPUs are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
