package watson_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/connectortest"
	"github.com/botrelay/botrelay/connectors/watson"
)

func TestConformance(t *testing.T) {
	for _, v := range []struct {
		name string
		conn botrelay.VendorConnector
		v2   bool
	}{{"v1", watson.V1{}, false}, {"v2", watson.V2{}, true}} {
		for _, auth := range []string{"iam", "basic"} {
			t.Run(v.name+"/"+auth, func(t *testing.T) {
				connectortest.Run(t, connectortest.Harness{
					Connector: v.conn,
					Bot: func(t *testing.T) (json.RawMessage, *http.Client) {
						var opts []fakeOpt
						if v.v2 {
							opts = append(opts, v2Fake)
						}
						if auth == "basic" {
							opts = append(opts, basicAuth)
						}
						f := newFake(t, opts...)
						raw, _ := json.Marshal(settings(f, v.v2))
						return raw, nil
					},
					Secrets: []string{fakeAPIKey, fakePassword},
					Doc:     "watson.md",
				})
			})
		}
	}
}
