"""Training: the four Lingshu stages (SFT x3 + GRPO), as typed recipes.

``lingshu.train.grpo`` holds the GRPO stage and RL data preparation;
``lingshu.train.rewards`` the registered, pure reward functions.
"""
