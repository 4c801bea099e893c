//! Andersen–Lake–Offengenden (2016) fixed-point American engine.
