"""The methodology library: declarative, versioned, sourced quantification of every behaviour.

A methodology is one TOML file (``src/tanhui/methodologies/<scenario>/<id>@<version>.toml``, or an
operator's directory in ``TANHUI_METHODOLOGY_PATH``): inputs with bounds, emission factors with
sources, a formula in a restricted Decimal language, identity fields, caps, plausibility rules and
test vectors. Quantifying returns whole grams (half-even, once) and an explanation. Points are a
separate policy. Only ``loader`` reads files; everything else is pure.

    library = load_library()
    m = library.resolve("bus_ride", on=day, pins=scheme_pins)
    q = m.quantify(data, QuantifyContext(occurred_at, local_date, default_region))
"""

from tanhui.domain.methodology.expression import ExpressionError, compile_expression
from tanhui.domain.methodology.factors import Factor, FactorValue
from tanhui.domain.methodology.inputs import InputSpec
from tanhui.domain.methodology.library import Library
from tanhui.domain.methodology.loader import ENV_PATH, load_file, load_library, packaged_dir, parse_methodology
from tanhui.domain.methodology.model import Cap, IdentityRule, Methodology, PlausibilityRule, TestVector
from tanhui.domain.methodology.quantify import Quantification, QuantifyContext
from tanhui.domain.methodology.vectors import VectorResult, run_vectors

__all__ = [
    "ENV_PATH",
    "Cap",
    "ExpressionError",
    "Factor",
    "FactorValue",
    "IdentityRule",
    "InputSpec",
    "Library",
    "Methodology",
    "PlausibilityRule",
    "Quantification",
    "QuantifyContext",
    "TestVector",
    "VectorResult",
    "compile_expression",
    "load_file",
    "load_library",
    "packaged_dir",
    "parse_methodology",
    "run_vectors",
]
