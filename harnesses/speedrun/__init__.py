"""Trusted harness of the LLM pretraining speedrun domain.

It fixes a held-out validation split once per campaign, runs an experiment's `train.py` under a wall-clock budget,
then loads the last checkpoint itself, checks the parameter cap and causality, and computes val_bpb.
The checkpoint interface an experiment must follow is described in README.md beside this file.
"""
