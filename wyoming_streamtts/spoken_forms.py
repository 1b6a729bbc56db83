"""How a language says what Home Assistant's answers are made of: units of its sensors' device classes, months,
currencies, and the few words between numbers (to, point, percent). English, German and French; other languages
get their numbers from num2words and keep the rest as written."""

from dataclasses import dataclass

# Units: symbol -> (singular, plural) per language. Longer symbols are matched first (kWh before kW before W).
_UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"), "MW": ("megawatt", "megawatts"),
        "Wh": ("watt hour", "watt hours"), "kWh": ("kilowatt hour", "kilowatt hours"),
        "MWh": ("megawatt hour", "megawatt hours"), "V": ("volt", "volts"), "mV": ("millivolt", "millivolts"),
        "A": ("ampere", "amperes"), "mA": ("milliampere", "milliamperes"), "Hz": ("hertz", "hertz"),
        "kHz": ("kilohertz", "kilohertz"), "°C": ("degree Celsius", "degrees Celsius"),
        "°F": ("degree Fahrenheit", "degrees Fahrenheit"), "K": ("kelvin", "kelvin"), "%": ("percent", "percent"),
        "hPa": ("hectopascal", "hectopascals"), "mbar": ("millibar", "millibars"), "bar": ("bar", "bars"),
        "psi": ("psi", "psi"), "inHg": ("inch of mercury", "inches of mercury"),
        "mm/h": ("millimetre per hour", "millimetres per hour"), "km/h": ("kilometre per hour", "kilometres per hour"),
        "m/s": ("metre per second", "metres per second"), "mph": ("mile per hour", "miles per hour"),
        "kn": ("knot", "knots"), "km": ("kilometre", "kilometres"), "m": ("metre", "metres"),
        "cm": ("centimetre", "centimetres"), "mm": ("millimetre", "millimetres"), "mi": ("mile", "miles"),
        "ft": ("foot", "feet"), "in": ("inch", "inches"), "L": ("litre", "litres"), "mL": ("millilitre", "millilitres"),
        "gal": ("gallon", "gallons"), "m³": ("cubic metre", "cubic metres"), "ft³": ("cubic foot", "cubic feet"),
        "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "lb": ("pound", "pounds"), "oz": ("ounce", "ounces"),
        "lx": ("lux", "lux"), "dB": ("decibel", "decibels"), "dBm": ("decibel milliwatt", "decibel milliwatts"),
        "ppm": ("part per million", "parts per million"), "ppb": ("part per billion", "parts per billion"),
        "µg/m³": ("microgram per cubic metre", "micrograms per cubic metre"),
        "mg/m³": ("milligram per cubic metre", "milligrams per cubic metre"), "s": ("second", "seconds"),
        "ms": ("millisecond", "milliseconds"), "min": ("minute", "minutes"), "h": ("hour", "hours"),
        "d": ("day", "days"), "GB": ("gigabyte", "gigabytes"), "MB": ("megabyte", "megabytes"),
        "kB": ("kilobyte", "kilobytes"), "Mbit/s": ("megabit per second", "megabits per second"),
    },
    "de": {
        "W": ("Watt", "Watt"), "kW": ("Kilowatt", "Kilowatt"), "MW": ("Megawatt", "Megawatt"),
        "Wh": ("Wattstunde", "Wattstunden"), "kWh": ("Kilowattstunde", "Kilowattstunden"),
        "MWh": ("Megawattstunde", "Megawattstunden"), "V": ("Volt", "Volt"), "mV": ("Millivolt", "Millivolt"),
        "A": ("Ampere", "Ampere"), "mA": ("Milliampere", "Milliampere"), "Hz": ("Hertz", "Hertz"),
        "kHz": ("Kilohertz", "Kilohertz"), "°C": ("Grad Celsius", "Grad Celsius"),
        "°F": ("Grad Fahrenheit", "Grad Fahrenheit"), "K": ("Kelvin", "Kelvin"), "%": ("Prozent", "Prozent"),
        "hPa": ("Hektopascal", "Hektopascal"), "mbar": ("Millibar", "Millibar"), "bar": ("Bar", "Bar"),
        "psi": ("psi", "psi"), "inHg": ("Zoll Quecksilbersäule", "Zoll Quecksilbersäule"),
        "mm/h": ("Millimeter pro Stunde", "Millimeter pro Stunde"),
        "km/h": ("Kilometer pro Stunde", "Kilometer pro Stunde"), "m/s": ("Meter pro Sekunde", "Meter pro Sekunde"),
        "mph": ("Meile pro Stunde", "Meilen pro Stunde"), "kn": ("Knoten", "Knoten"), "km": ("Kilometer", "Kilometer"),
        "m": ("Meter", "Meter"), "cm": ("Zentimeter", "Zentimeter"), "mm": ("Millimeter", "Millimeter"),
        "mi": ("Meile", "Meilen"), "ft": ("Fuß", "Fuß"), "in": ("Zoll", "Zoll"), "L": ("Liter", "Liter"),
        "mL": ("Milliliter", "Milliliter"), "gal": ("Gallone", "Gallonen"), "m³": ("Kubikmeter", "Kubikmeter"),
        "ft³": ("Kubikfuß", "Kubikfuß"), "kg": ("Kilogramm", "Kilogramm"), "g": ("Gramm", "Gramm"),
        "lb": ("Pfund", "Pfund"), "oz": ("Unze", "Unzen"), "lx": ("Lux", "Lux"), "dB": ("Dezibel", "Dezibel"),
        "dBm": ("Dezibel Milliwatt", "Dezibel Milliwatt"), "ppm": ("ppm", "ppm"), "ppb": ("ppb", "ppb"),
        "µg/m³": ("Mikrogramm pro Kubikmeter", "Mikrogramm pro Kubikmeter"),
        "mg/m³": ("Milligramm pro Kubikmeter", "Milligramm pro Kubikmeter"), "s": ("Sekunde", "Sekunden"),
        "ms": ("Millisekunde", "Millisekunden"), "min": ("Minute", "Minuten"), "h": ("Stunde", "Stunden"),
        "d": ("Tag", "Tage"), "GB": ("Gigabyte", "Gigabyte"), "MB": ("Megabyte", "Megabyte"),
        "kB": ("Kilobyte", "Kilobyte"), "Mbit/s": ("Megabit pro Sekunde", "Megabit pro Sekunde"),
    },
    "fr": {
        "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"), "MW": ("mégawatt", "mégawatts"),
        "Wh": ("wattheure", "wattheures"), "kWh": ("kilowattheure", "kilowattheures"),
        "MWh": ("mégawattheure", "mégawattheures"), "V": ("volt", "volts"), "mV": ("millivolt", "millivolts"),
        "A": ("ampère", "ampères"), "mA": ("milliampère", "milliampères"), "Hz": ("hertz", "hertz"),
        "kHz": ("kilohertz", "kilohertz"), "°C": ("degré Celsius", "degrés Celsius"),
        "°F": ("degré Fahrenheit", "degrés Fahrenheit"), "K": ("kelvin", "kelvins"), "%": ("pour cent", "pour cent"),
        "hPa": ("hectopascal", "hectopascals"), "mbar": ("millibar", "millibars"), "bar": ("bar", "bars"),
        "psi": ("psi", "psi"), "inHg": ("pouce de mercure", "pouces de mercure"),
        "mm/h": ("millimètre par heure", "millimètres par heure"),
        "km/h": ("kilomètre par heure", "kilomètres par heure"), "m/s": ("mètre par seconde", "mètres par seconde"),
        "mph": ("mile par heure", "miles par heure"), "kn": ("nœud", "nœuds"), "km": ("kilomètre", "kilomètres"),
        "m": ("mètre", "mètres"), "cm": ("centimètre", "centimètres"), "mm": ("millimètre", "millimètres"),
        "mi": ("mile", "miles"), "ft": ("pied", "pieds"), "in": ("pouce", "pouces"), "L": ("litre", "litres"),
        "mL": ("millilitre", "millilitres"), "gal": ("gallon", "gallons"), "m³": ("mètre cube", "mètres cubes"),
        "ft³": ("pied cube", "pieds cubes"), "kg": ("kilogramme", "kilogrammes"), "g": ("gramme", "grammes"),
        "lb": ("livre", "livres"), "oz": ("once", "onces"), "lx": ("lux", "lux"), "dB": ("décibel", "décibels"),
        "dBm": ("décibel milliwatt", "décibels milliwatt"), "ppm": ("partie par million", "parties par million"),
        "ppb": ("partie par milliard", "parties par milliard"),
        "µg/m³": ("microgramme par mètre cube", "microgrammes par mètre cube"),
        "mg/m³": ("milligramme par mètre cube", "milligrammes par mètre cube"), "s": ("seconde", "secondes"),
        "ms": ("milliseconde", "millisecondes"), "min": ("minute", "minutes"), "h": ("heure", "heures"),
        "d": ("jour", "jours"), "GB": ("gigaoctet", "gigaoctets"), "MB": ("mégaoctet", "mégaoctets"),
        "kB": ("kilooctet", "kilooctets"), "Mbit/s": ("mégabit par seconde", "mégabits par seconde"),
    },
}  # fmt: skip

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}


@dataclass(frozen=True)
class SpokenForms:
    """One language's words for the normaliser; `units` empty where it has no table (the symbols stay)."""

    units: dict[str, tuple[str, str]]
    months: tuple[str, ...]
    to: str  # 20–25: "20 to 25"
    symbols: dict[str, str]  # & + = #, said between words
    decimal_comma: bool  # 1,5 is one and a half (de, fr); 1,500 is fifteen hundred (en)
    date_order: str  # how a locale writes 08/12/2026: "mdy" (en) or "dmy"


FORMS = {
    "en": SpokenForms(_UNITS["en"], tuple(_MONTHS["en"].split()), "to",
                      {"&": "and", "+": "plus", "=": "equals", "#": "number"}, False, "mdy"),
    "de": SpokenForms(_UNITS["de"], tuple(_MONTHS["de"].split()), "bis",
                      {"&": "und", "+": "plus", "=": "gleich", "#": "Nummer"}, True, "dmy"),
    "fr": SpokenForms(_UNITS["fr"], tuple(_MONTHS["fr"].split()), "à",
                      {"&": "et", "+": "plus", "=": "égal", "#": "numéro"}, True, "dmy"),
}  # fmt: skip
# Languages whose decimal separator is a comma (num2words reads their numbers; the rest of their text stays).
DECIMAL_COMMA = {"de", "fr", "es", "it", "pt", "nl", "ru", "pl", "cs", "tr", "sv", "da", "no", "fi", "hu", "ro", "uk",
                 "sk", "sl", "lt", "lv", "ca", "be", "sr", "id", "vi", "az", "kz", "is"}  # fmt: skip


def forms_for(language: str) -> SpokenForms:
    """The language's words; for one without a table, its separators and no unit words."""
    base = language.split("-")[0]
    if base in FORMS:
        return FORMS[base]
    return SpokenForms({}, (), "-", {}, base in DECIMAL_COMMA, "dmy")
