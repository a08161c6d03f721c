"""Reports: participation and reach (RE-AIM), read-only; evaluators see no personal data."""
