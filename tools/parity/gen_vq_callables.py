"""Golden fixtures for VectorQuantize's callable options (tests/fixtures/VectorQuantize/):
the in-place codebook optimizer (SGD, Adam, manual update, masks) and the FVQ
vq_bridge. The config stores the JSON specs of tools/parity/vq_callables.py
(the same ones vqcpp reads); the runner turns them into the torch objects.
Called from gen_vq.generate().
"""

from quantizer_case import lens_mask, run_case, vq_state

M = "VectorQuantize"
B, N, D, K = 2, 8, 16, 32
SEQ = (B, N, D)


def base(**kw):
    cfg = {"dim": D, "codebook_size": K}
    cfg.update(kw)
    return cfg


def learnable(**kw):
    return base(learnable_codebook=True, ema_update=False, **kw)


def sgd(lr, **kw):
    return {"type": "SGD", "lr": lr, **kw}


BD = {"return_loss_breakdown": True}


def generate():
    p = vq_state()

    # --- in-place codebook optimizer (SPEC 3.6)
    run_case(module=M, name="inplace_sgd_train",
             case="learnable codebook + in-place SGD lr 1e-3 (README): L_ip backward, step, second codebook pass; breakdown inplace_optimize",
             config=learnable(in_place_codebook_optimizer=sgd(1e-3)), mode="train", seed=200, x_shape=SEQ,
             prepare=p, call=BD)
    run_case(module=M, name="inplace_sgd_momentum_train",
             case="in-place SGD lr 2, momentum 0.9, STE: a step large enough to move the codes and re-pick some indices",
             config=learnable(rotation_trick=False, in_place_codebook_optimizer=sgd(2.0, momentum=0.9)),
             mode="train", seed=201, x_shape=SEQ, prepare=p, call=BD)
    run_case(module=M, name="inplace_adam_train",
             case="in-place Adam lr 1e-2, betas (0.8, 0.99): one bias-corrected step of size ~lr on every code entry",
             config=learnable(in_place_codebook_optimizer={"type": "Adam", "lr": 1e-2, "betas": [0.8, 0.99]}),
             mode="train", seed=202, x_shape=SEQ, prepare=p, call=BD)
    run_case(module=M, name="inplace_adamw_train",
             case="in-place AdamW lr 1e-2 (default weight_decay 0.01), commitment_weight 0.5",
             config=learnable(commitment_weight=0.5, in_place_codebook_optimizer={"type": "AdamW", "lr": 1e-2}),
             mode="train", seed=203, x_shape=SEQ, prepare=p, call=BD)
    run_case(module=M, name="inplace_manual_train",
             case="manual_in_place_optimizer_update: no step, the L_ip gradient stays in grad._codebook.embed and the outer backward adds to it",
             config=learnable(in_place_codebook_optimizer=sgd(1.0), manual_in_place_optimizer_update=True),
             mode="train", seed=204, x_shape=SEQ, prepare=p, call=BD)
    run_case(module=M, name="inplace_mask_train",
             case="in-place SGD lr 2 with mask (b, n): L_ip averages over valid tokens only",
             config=learnable(in_place_codebook_optimizer=sgd(2.0)), mode="train", seed=205, x_shape=SEQ,
             prepare=p, mask=lens_mask([8, 5]), call=BD)
    run_case(module=M, name="inplace_heads2_mask_train",
             case="in-place SGD lr 2, heads=2 shared codebook (codebook_dim 8), mask expanded over the heads folded into the batch (commitment 0: the reference's masked commitment needs heads 1)",
             config=learnable(codebook_dim=8, heads=2, commitment_weight=0.0, in_place_codebook_optimizer=sgd(2.0)),
             mode="train",
             seed=206, x_shape=SEQ, prepare=p, mask=lens_mask([6, 8]), call=BD)
    run_case(module=M, name="inplace_freeze_train",
             case="in-place optimizer with freeze_codebook=True: no in-place step, inplace_optimize 0",
             config=learnable(in_place_codebook_optimizer=sgd(2.0)), mode="train", seed=207, x_shape=SEQ,
             prepare=p, call={"return_loss_breakdown": True, "freeze_codebook": True})

    # --- vq_bridge (FVQ)
    mlp = {"type": "mlp", "hidden": [32], "activation": "gelu"}
    run_case(module=M, name="vq_bridge_mlp_inplace_train",
             case="vq_bridge MLP (Linear 16->32, GELU, Linear 32->16), learnable, no EMA (defaults), in-place SGD lr 0.1 over embed and bridge",
             config=base(vq_bridge=mlp, in_place_codebook_optimizer=sgd(0.1)), mode="train", seed=210,
             x_shape=SEQ, prepare=p, call=BD)
    run_case(module=M, name="vq_bridge_relu_train",
             case="vq_bridge Sequential(Linear, ReLU, Linear) without in-place optimizer: grad._codebook.vq_bridge.* from the commitment loss",
             config=base(vq_bridge={"type": "mlp", "hidden": [24], "activation": "relu"}, rotation_trick=False),
             mode="train", seed=211, x_shape=SEQ, prepare=p, call=BD)
    run_case(module=M, name="vq_bridge_linear_eval",
             case="vq_bridge Linear(16, 16), eval: search on bridged codes; get_output_from_indices ignores the bridge (SPEC 3.7 quirk)",
             config=base(vq_bridge={"type": "linear"}), mode="eval", seed=212, x_shape=SEQ, prepare=p,
             backward=False, decode="output_from_indices",
             note="SPEC 3.7 / 23.15: the decode helpers skip vq_bridge, so output_from_indices != quantized")
