package config

import (
	"net/url"
	"strings"
	"time"
)

// ClusterConfig holds the cluster settings of Config (docs/cluster.md).
// Setting NodeID turns cluster mode on.
type ClusterConfig struct {
	// NodeID names this node in the cluster.
	NodeID string `yaml:"node_id" doc:"Name of this node in a cluster of botrelay nodes sharing one PostgreSQL database (1 to 64 letters, digits, _, . or -); setting it turns cluster mode on. Empty runs a single node."`
	// Advertise is the URL the other nodes reach this node at.
	Advertise string `yaml:"advertise" doc:"URL the other nodes of the cluster reach this node at, such as http://10.0.0.5:8080; required in cluster mode."`
	// LeaseTTL is how long a node's heartbeat and leases last.
	LeaseTTL Duration `yaml:"lease_ttl" doc:"How long a node's heartbeat and its leases last: a node silent this long is dead and its bots and routing move to the others; from 1s to 60s."`
}

// Enabled reports whether cluster mode is on.
func (c ClusterConfig) Enabled() bool { return c.NodeID != "" || c.Advertise != "" }

func defaultClusterConfig() ClusterConfig {
	return ClusterConfig{LeaseTTL: Duration(2 * time.Second)}
}

// validateCluster checks the format of the cluster settings that are set;
// CheckCluster checks that they make a cluster.
func (c *Config) validateCluster() error {
	cl := c.Cluster
	if d := time.Duration(cl.LeaseTTL); d < time.Second || d > time.Minute {
		return keyError("cluster.lease_ttl", "cluster.lease_ttl %s must be from 1s to 60s", cl.LeaseTTL)
	}
	if cl.NodeID != "" && !nodeIDPattern.MatchString(cl.NodeID) {
		return keyError("cluster.node_id", "cluster.node_id %q must be 1 to 64 letters, digits, _, . or -", cl.NodeID)
	}
	if cl.Advertise != "" {
		u, err := url.Parse(cl.Advertise)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return keyError("cluster.advertise", "cluster.advertise %q must be the URL the other nodes reach this node at, such as http://10.0.0.5:8080", cl.Advertise)
		}
	}
	return nil
}

// CheckCluster checks, when cluster mode is on, that the settings make a
// cluster node: PostgreSQL, a node id and an advertised URL. botrelay serve
// calls it after Validate.
func (c *Config) CheckCluster() error {
	cl := c.Cluster
	if !cl.Enabled() {
		return nil
	}
	if driver, _ := c.DatabaseURL(); driver != "postgres" {
		return keyError("cluster.node_id", "cluster mode needs PostgreSQL: give every node the same --database postgres://… (SQLite serves a single node)")
	}
	if cl.NodeID == "" {
		return keyError("cluster.node_id", "cluster.node_id must name this node in cluster mode, such as node-1")
	}
	if cl.Advertise == "" {
		return keyError("cluster.advertise", "cluster.advertise must be the URL the other nodes reach this node at, such as http://10.0.0.5:8080")
	}
	return nil
}
