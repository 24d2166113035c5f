// Package bandit is the arithmetic of a linear contextual bandit: per-arm
// sufficient statistics, the Gaussian posterior they give, Thompson
// sampling and LinUCB scores, the choice between arms under an
// exploration cap, and the reward. It knows nothing of requests or policy
// trees; the "bandit" policy kind (internal/policy/bandit) builds feature
// vectors, keeps the statistics in tally vectors and calls it.
//
// # Model
//
// Each arm a has an unknown weight vector θ_a and the reward of serving a
// request with context x on a is xᵀθ_a plus noise. With the ridge-regularised
// Gram matrix A = R·I + P + Σ x xᵀ (R the ridge, P the prior's
// pseudo-observations) and b = p + Σ r x, the posterior of θ_a is
// N(θ̂, v²A⁻¹) with θ̂ = A⁻¹b, and v² the noise variance, estimated from the
// arm's residuals shrunk towards a prior variance (see Posterior.Noise).
//
// The statistics are additive (Layout): a new observation adds x xᵀ to A,
// r·x to b and 1 to the count; replacing an observation's reward r_old by
// r_new adds x·(r_new − r_old) to b and leaves A alone. Additive statistics
// can be summed across replicas in any order.
//
// # Decisions
//
// A Posterior is computed from an arm's statistics by a Cholesky
// factorisation (gonum) and cached by the caller until the statistics
// change; a decision then costs O(d²) per arm with no allocation.
// Thompson sampling draws θ ~ N(θ̂, v²A⁻¹) and scores xᵀθ; since only that
// one projection matters for one decision, it draws the projection
// directly, xᵀθ ~ N(xᵀθ̂, v²·xᵀA⁻¹x), which has exactly the same
// distribution and needs one normal draw per arm. LinUCB scores
// xᵀθ̂ + α·sqrt(xᵀA⁻¹x).
package bandit
