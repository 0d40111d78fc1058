"""Relatable equivalents of a measurement: distance by car, phone charges, water boiled, bulb time.

Each is one figure with its basis; docs/equivalents.md gives the sources and derivations.
Energy-based equivalents compare the electricity itself (they do not depend on the grid);
the car compares CO2. Every phrase scales its own unit (cm, m, km; mL, L; s, min, h) so
that a 50 ms cell and a day-long training both read naturally.
"""

from __future__ import annotations

from dataclasses import dataclass

# US EPA, "Tailpipe Greenhouse Gas Emissions from a Typical Passenger Vehicle"
# (EPA-420-F-23-014, June 2023): about 400 g CO2 per mile = 248.5 g per km.
CAR_G_CO2_PER_KM = 400.0 / 1.609344
# A 4,500 mAh smartphone battery at 3.85 V nominal stores 17.3 Wh; charging loses about 15 %.
PHONE_CHARGE_WH = 20.0
# Heating 1 L of water from 15 to 100 degC: 4.186 kJ/(kg.K) x 85 K = 98.8 Wh; a kettle is about 85 % efficient.
KETTLE_WH_PER_LITRE = 4.186 * 85 / 3.6 / 0.85
# An LED bulb giving the light of a 60 W incandescent one (about 800 lumens) draws about 10 W.
LED_BULB_W = 10.0


@dataclass(frozen=True)
class Equivalent:
    """One phrase (``text``) and what it compares (``basis``, shown as a tooltip)."""

    key: str
    text: str
    basis: str


def _number(value: float) -> str:
    """Two significant digits, no exponent: '0.0031', '12', '2,400'."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def distance(km: float) -> str:
    if km >= 1:
        return f"{_number(km)} km"
    if km >= 0.001:
        return f"{_number(km * 1000)} m"
    if km >= 1e-5:
        return f"{_number(km * 1e5)} cm"
    return f"{_number(km * 1e6)} mm"


def volume(litres: float) -> str:
    return f"{_number(litres)} L" if litres >= 1 else f"{_number(litres * 1000)} mL"


def span(hours: float) -> str:
    seconds = hours * 3600
    if seconds < 60:
        return f"{_number(seconds)} s"
    if seconds < 3600:
        return f"{_number(seconds / 60)} min"
    if hours < 48:
        return f"{_number(hours)} h"
    return f"{_number(hours / 24)} days"


def phone(charges: float) -> str:
    if charges >= 1:
        return f"{_number(charges)} phone charge{'s' if charges >= 1.05 else ''}"
    return f"{_number(charges * 100)} % of a phone charge"


def equivalents(energy_kwh: float, emissions_kg: float) -> list[Equivalent]:
    """The phrases for a measurement (energy with PUE, in kWh; CO2e in kg); none for zero."""
    energy_wh = energy_kwh * 1000.0
    co2_g = emissions_kg * 1000.0
    found = []
    if co2_g > 0:
        found.append(Equivalent(
            "car", f"driving a car {distance(co2_g / CAR_G_CO2_PER_KM)}",
            f"CO2: a typical passenger car emits {CAR_G_CO2_PER_KM:.0f} g CO2/km (US EPA, 2023)",
        ))
    if energy_wh > 0:
        found.append(Equivalent(
            "phone", phone(energy_wh / PHONE_CHARGE_WH),
            f"energy: a full smartphone charge draws about {PHONE_CHARGE_WH:.0f} Wh",
        ))
        found.append(Equivalent(
            "kettle", f"boiling {volume(energy_wh / KETTLE_WH_PER_LITRE)} of water",
            f"energy: a kettle uses about {KETTLE_WH_PER_LITRE:.0f} Wh to boil 1 L from 15 degC",
        ))
        found.append(Equivalent(
            "bulb", f"a {LED_BULB_W:.0f} W LED bulb for {span(energy_wh / LED_BULB_W)}",
            f"energy: an LED bulb as bright as a 60 W incandescent one draws about {LED_BULB_W:.0f} W",
        ))
    return found
