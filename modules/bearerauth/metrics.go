package bearerauth

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are bearer_auth's Prometheus series, served wherever Caddy serves
// its metrics (the admin endpoint's /metrics, or the metrics handler):
//
//	portcullis_bearer_decisions_total{result, reason}     policy decisions
//	portcullis_bearer_verification_failures_total{cause}  tokens refused before the policy
//	portcullis_bearer_token_cache_total{result}           verified-token cache hits and misses
//	portcullis_jwks_fetches_total{issuer, result}         remote issuer JWKS fetches
//	portcullis_bearer_decision_log_dropped_total          decision log lines dropped, the buffer full
type metrics struct {
	decisions    *prometheus.CounterVec
	verifyFailed *prometheus.CounterVec
	cache        *prometheus.CounterVec
	jwksFetches  *prometheus.CounterVec
	cacheHit     prometheus.Counter
	cacheMiss    prometheus.Counter
	allowed      prometheus.Counter // decisions{result="allow", reason="allowed"}, the common case

	decisionLogDropped prometheus.Counter
}

// decision returns the counter of a decision's result and reason.
func (m *metrics) decision(allow bool, reason string) prometheus.Counter {
	if allow && reason == "allowed" {
		return m.allowed
	}
	result := "deny"
	if allow {
		result = "allow"
	}
	return m.decisions.WithLabelValues(result, reason)
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.decisions, err = counter(reg, "portcullis_bearer_decisions_total", "Policy decisions of bearer_auth.", "result", "reason"); err != nil {
		return nil, err
	}
	if m.verifyFailed, err = counter(reg, "portcullis_bearer_verification_failures_total", "Requests bearer_auth refused before asking the policy, by cause.", "cause"); err != nil {
		return nil, err
	}
	if m.cache, err = counter(reg, "portcullis_bearer_token_cache_total", "Lookups in bearer_auth's verified-token cache.", "result"); err != nil {
		return nil, err
	}
	if m.jwksFetches, err = counter(reg, "portcullis_jwks_fetches_total", "JWKS fetches from remote issuers.", "issuer", "result"); err != nil {
		return nil, err
	}
	dropped, err := counter(reg, "portcullis_bearer_decision_log_dropped_total", "Decision log lines bearer_auth dropped because its buffer was full.")
	if err != nil {
		return nil, err
	}
	m.decisionLogDropped = dropped.WithLabelValues()
	m.cacheHit = m.cache.WithLabelValues("hit")
	m.cacheMiss = m.cache.WithLabelValues("miss")
	m.allowed = m.decisions.WithLabelValues("allow", "allowed")
	return m, nil
}

// counter registers a counter vector, or returns the one registered by
// another bearer_auth of the same configuration.
func counter(reg prometheus.Registerer, name, help string, labels ...string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		existing, ok := dup.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, err
		}
		return existing, nil
	}
	return c, err
}
