"""Training data: conversations read and encoded for the supervised stages (``sft``),
packing and collation with the loss over assistant tokens (``packing``, with the packed
attention kernel in ``packed_attention``), per-step image augmentation (``augment``) and the
builder of the ``nano`` recipe's shipped data set (``nano``). Importing it loads no torch.
"""
