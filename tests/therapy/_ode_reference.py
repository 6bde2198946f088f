"""The slow, obvious reference of the PK/PD closed forms: the ODEs integrated numerically.

Gut and plasma amounts (mg), and optionally an effect-site concentration (ng/mL),
integrated by DOP853 (rtol 1e-10) between dose impulses; each dose adds F · dose to the gut.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from metastroma.config.therapy import DrugConfig


def integrate_doses(
    t_eval: np.ndarray,
    drug: DrugConfig,
    dose_times: np.ndarray,
    dose_mg: float,
    ke0: float | None = None,
) -> np.ndarray:
    """Plasma concentration (ng/mL) at ``t_eval``, or the effect site's with ``ke0`` (1/h)."""
    ka, ke, v = drug.ka_per_h, drug.ke_per_h, drug.volume_l
    k0 = 0.0 if ke0 is None else ke0

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        return [-ka * y[0], ka * y[0] - ke * y[1], k0 * (1e3 * y[1] / v - y[2])]

    out = np.zeros_like(t_eval)
    y = np.zeros(3)
    edges = [*list(dose_times), float(t_eval.max()) + 1.0]
    t0 = 0.0
    for i, t1 in enumerate(edges):
        inside = (t_eval >= t0) & (t_eval < t1)
        if t1 > t0:
            sol = solve_ivp(
                rhs,
                (t0, t1),
                y,
                method="DOP853",
                rtol=1e-10,
                atol=1e-14,
                dense_output=True,
            )
            at = sol.sol(t_eval[inside])
            out[inside] = at[2] if ke0 is not None else at[1] / v * 1.0e3
            y = sol.y[:, -1].copy()
        if i < len(dose_times):
            y[0] += drug.bioavailability * dose_mg
        t0 = t1
    return out
