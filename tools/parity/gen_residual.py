"""Golden fixtures for the residual families (tests/fixtures/Residual*/).
quantize_dropout stays off (it draws a random depth)."""

from quantizer_case import lens_mask, run_case, vq_state


def generate():
    p = vq_state()
    rvq = {"dim": 16, "codebook_size": 32, "num_quantizers": 3}
    run_case(module="ResidualVQ", name="default_eval", case="ResidualVQ dim=16 K=32 q=3, eval, decode",
             config=rvq, mode="eval", seed=600, x_shape=(2, 8, 16), prepare=p, backward=False,
             decode="output_from_indices")
    run_case(module="ResidualVQ", name="default_train", case="ResidualVQ q=3 training step: per-layer losses (q,), EMA of every layer",
             config=rvq, mode="train", seed=601, x_shape=(2, 8, 16), prepare=p)
    run_case(module="ResidualVQ", name="codebook_dim_train", case="ResidualVQ with codebook_dim=8 (per-layer projections), q=2",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 2, "codebook_dim": 8}, mode="train",
             seed=602, x_shape=(2, 8, 16), prepare=p)
    run_case(module="ResidualVQ", name="shared_codebook_train", case="ResidualVQ shared_codebook=True, q=2",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 2, "shared_codebook": True}, mode="train",
             seed=603, x_shape=(2, 8, 16), prepare=p)
    run_case(module="ResidualVQ", name="mask_train", case="ResidualVQ with mask (b, n), q=2",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 2}, mode="train",
             seed=604, x_shape=(2, 8, 16), prepare=p, mask=lens_mask([8, 5]))
    run_case(module="ResidualVQ", name="all_codes_eval", case="ResidualVQ return_all_codes=True, eval, q=2",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 2}, mode="eval",
             seed=605, x_shape=(2, 8, 16), prepare=p, backward=False, call={"return_all_codes": True})

    run_case(module="ResidualVQ", name="beam_search_train", case="ResidualVQ beam_size=2 in training (top-k per layer, beam pruning by cumulative distance), q=3",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 3, "beam_size": 2}, mode="train",
             seed=606, x_shape=(2, 8, 16), prepare=p,
             note="SPEC 4.8: after the beam search only layer 0's codebook is EMA-updated")

    # (with an in-place optimizer too, the reference's outer backward fails: layer 1's
    # step modifies the shared bridge that layer 0's graph saved)
    run_case(module="ResidualVQ", name="vq_bridge_shared_train",
             case="ResidualVQ q=2 with one MLP vq_bridge shared by both layers (one Python module in the kwargs): bridge gradients of both layers add up",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 2,
                     "vq_bridge": {"type": "mlp", "hidden": [16], "activation": "relu"}},
             mode="train", seed=607, x_shape=(2, 8, 16), prepare=p)

    rfsq = {"levels": [8, 5, 5, 5], "num_quantizers": 2, "dim": 8}
    run_case(module="ResidualFSQ", name="default_eval", case="ResidualFSQ levels [8,5,5,5] q=2 dim=8 (projection), eval, decode",
             config=rfsq, mode="eval", seed=610, x_shape=(2, 8, 8), decode="output_from_indices")
    run_case(module="ResidualFSQ", name="default_train", case="ResidualFSQ levels [8,5,5,5] q=2 dim=8, train + backward",
             config=rfsq, mode="train", seed=611, x_shape=(2, 8, 8))
    run_case(module="ResidualFSQ", name="no_projection_train", case="ResidualFSQ levels [7,5,5] q=3, dim=3 (no projection)",
             config={"levels": [7, 5, 5], "num_quantizers": 3}, mode="train", seed=612, x_shape=(2, 8, 3),
             decode="output_from_indices")
    run_case(module="ResidualFSQ", name="all_codes_eval", case="ResidualFSQ return_all_codes=True, eval",
             config=rfsq, mode="eval", seed=613, x_shape=(2, 8, 8), call={"return_all_codes": True})

    rlfq = {"dim": 8, "codebook_size": 16, "num_quantizers": 2, "commitment_loss_weight": 0.25}
    run_case(module="ResidualLFQ", name="default_eval", case="ResidualLFQ dim=8 K=16 q=2 (projection 8->4), eval, decode",
             config=rlfq, mode="eval", seed=620, x_shape=(2, 8, 8), decode="output_from_indices")
    run_case(module="ResidualLFQ", name="default_train", case="ResidualLFQ dim=8 K=16 q=2, train: per-layer aux losses (q,)",
             config=rlfq, mode="train", seed=621, x_shape=(2, 8, 8))
    run_case(module="ResidualLFQ", name="no_projection_train", case="ResidualLFQ dim=4 K=16 q=3 (no projection), scales 1, 1/2, 1/4",
             config={"dim": 4, "codebook_size": 16, "num_quantizers": 3}, mode="train", seed=622,
             x_shape=(2, 8, 4))

    # grouped variants: the feature axis is split into `groups` independent
    # residual quantizers; indices (groups, b, n, q), losses (groups, q)
    run_case(module="GroupedResidualVQ", name="groups2_train", case="GroupedResidualVQ dim=16 groups=2 q=2 K=32, training step",
             config={"dim": 16, "groups": 2, "num_quantizers": 2, "codebook_size": 32}, mode="train", seed=630,
             x_shape=(2, 8, 16), prepare=p)
    run_case(module="GroupedResidualVQ", name="groups2_eval", case="GroupedResidualVQ dim=16 groups=2 q=2 K=32, eval, decode",
             config={"dim": 16, "groups": 2, "num_quantizers": 2, "codebook_size": 32}, mode="eval", seed=631,
             x_shape=(2, 8, 16), prepare=p, backward=False, decode="output_from_indices")
    run_case(module="GroupedResidualFSQ", name="groups2_train", case="GroupedResidualFSQ dim=8 groups=2 levels [8,5,5,5] q=2 (no projection per group)",
             config={"dim": 8, "groups": 2, "levels": [8, 5, 5, 5], "num_quantizers": 2}, mode="train", seed=632,
             x_shape=(2, 8, 8), decode="output_from_indices")
    run_case(module="GroupedResidualLFQ", name="groups2_train", case="GroupedResidualLFQ dim=8 groups=2 K=16 q=2, training step, losses (groups, q)",
             config={"dim": 8, "groups": 2, "codebook_size": 16, "num_quantizers": 2, "commitment_loss_weight": 0.25},
             mode="train", seed=633, x_shape=(2, 8, 8))
