//! Surface SVI (Gatheral & Jacquier 2014): global calibration with no-arbitrage constraints.
