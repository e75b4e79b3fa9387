package ums

import (
	"encoding/json"
	"testing"
)

func TestSDEsFromProfile(t *testing.T) {
	profile := `[{"type":"ctmrinfo","info":{"cstatus":"gold","ctype":null},"serverTimeStamp":"5"},
	 {"type":"ctmrinfo","info":{"cstatus":null,"ctype":"vip"}},
	 {"type":"personal","auth":true,"personal":{"firstname":"Ann"}},
	 {"type":"somethingElse","x":{}}]`
	got, err := SDEsFromProfile(json.RawMessage(profile))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"authenticatedSdes":{"personalInfo":{"auth":{},"personalInfo":{"firstname":"Ann"},"type":"personal"}},` +
		`"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"cstatus":"gold","ctype":"vip"},"serverTimeStamp":"5"}}}`
	if string(got) != want {
		t.Fatalf("lpSdes\n%s\nwant\n%s", got, want)
	}
	back, _ := json.Marshal(ProfileFromSDEs(got))
	wantBack := `[{"auth":false,"info":{"cstatus":"gold","ctype":"vip"},"serverTimeStamp":"5","type":"ctmrinfo"},{"auth":true,"personal":{"firstname":"Ann"},"type":"personal"}]`
	if string(back) != wantBack {
		t.Fatalf("profile\n%s\nwant\n%s", back, wantBack)
	}
	if _, err := SDEsFromProfile(json.RawMessage(`{"firstName":""}`)); err == nil {
		t.Fatal("an agent's profile was taken for engagement attributes")
	}
}
