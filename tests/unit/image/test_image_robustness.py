"""Reliability cases of issue 10 (image-model training dynamics): no silent corruption, no unsafe loading, no orphans,
one-line errors."""
from __future__ import annotations

import pytest


# ------------------------------------------------------------------------------- 16: training dynamics, any seed
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_edit_by_optimisation_halves_the_user_loss_for_any_generator_seed(seed):
    """The editing test once asked a random generator for an arbitrary image: seeds 1-3 left 60-93 % of the
    loss. With a reachable target (G(z_true)) it ends below 6 % on seeds 0-11; 50 % keeps a wide margin."""
    import torch

    from speechdis.image.editing import edit_by_optimisation

    torch.manual_seed(seed)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Sigmoid()).requires_grad_(False)
    target = gen(torch.tensor([[1.5, -1.0, 0.5, 0.0], [-0.5, 1.0, 0.0, 1.5]]))
    _, hist = edit_by_optimisation(gen, torch.zeros(2, 4), lambda img: (img - target).pow(2).mean(1),
                                   lambda_prior=0.001, steps=100, lr=0.1)
    assert hist["user"][-1] < 0.5 * hist["user"][0]
