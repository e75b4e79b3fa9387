package dialogflow

import "testing"

// TestEndpoint: the API host and the test hook's loopback detection.
func TestEndpoint(t *testing.T) {
	tests := map[string]struct {
		setting, def string
		want         string
		loopback     bool
	}{
		"default":        {def: "dialogflow.googleapis.com", want: "dialogflow.googleapis.com:443"},
		"host":           {setting: "us-dialogflow.googleapis.com", want: "us-dialogflow.googleapis.com:443"},
		"https prefix":   {setting: "https://europe-west1-dialogflow.googleapis.com/", want: "europe-west1-dialogflow.googleapis.com:443"},
		"host and port":  {setting: "dialogflow.example.net:8443", want: "dialogflow.example.net:8443"},
		"ipv4 loopback":  {setting: "127.0.0.1:9000", want: "127.0.0.1:9000", loopback: true},
		"ipv6 loopback":  {setting: "[::1]:9000", want: "[::1]:9000", loopback: true},
		"localhost":      {setting: "localhost:9000", want: "localhost:9000", loopback: true},
		"private ip":     {setting: "10.0.0.5:9000", want: "10.0.0.5:9000"},
		"lookalike host": {setting: "127.0.0.1.example.com", want: "127.0.0.1.example.com:443"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := endpoint(tc.setting, tc.def)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || isLoopback(got) != tc.loopback {
				t.Fatalf("endpoint %q loopback %v, want %q %v", got, isLoopback(got), tc.want, tc.loopback)
			}
		})
	}
}
