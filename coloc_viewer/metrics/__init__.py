"""Co-localization scores (numpy only), DESIGN.md section 4."""
