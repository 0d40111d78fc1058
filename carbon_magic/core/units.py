"""Unit constants and conversions. Energy is joules inside the core; kWh only at the edges."""

J_PER_KWH = 3.6e6
J_PER_WH = 3600.0
G_PER_KG = 1000.0


def j_to_kwh(energy_j: float) -> float:
    """Joules to kilowatt-hours."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours to joules."""
    return energy_kwh * J_PER_KWH
