//! Raw SVI smiles (Gatheral 2004): calibration and no-arbitrage checks.
