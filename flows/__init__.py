"""Prefect flows: the campaign and one flow per phase. Each phase flow takes only the workspace folder (its config
is the copy in `campaign.yaml`), so any phase can be rerun alone from what is on disk."""
