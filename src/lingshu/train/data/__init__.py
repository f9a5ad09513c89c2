"""Training data: conversations read and encoded for the supervised stages (``sft``), the
stage's data held as a length index and encoded on demand (``lazy``, with each file's index
in ``file_index``, built in several processes by ``index_pool``, the lengths from
metadata in ``lengths``, the JSONL/parquet/WebDataset readers in ``sources`` and the
DataLoader workers in ``loader``), packing and collation with the loss over assistant tokens
(``packing``, with the packed attention kernel in ``packed_attention``), per-step image
augmentation (``augment``) and the builder of the ``nano`` recipe's shipped data set
(``nano``). Importing it loads no torch.
"""
