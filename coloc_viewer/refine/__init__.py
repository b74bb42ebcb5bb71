"""ROI-guided fine-tuning: teach a model where to look (ActDiff, GradMask, RRR, masked)."""
