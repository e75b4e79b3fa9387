package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
)

func testCannedReplies(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)

	list, err := s.CannedReplies(ctx, acct)
	must(t, err)
	if list == nil || len(list) != 0 {
		t.Fatalf("CannedReplies of a new account = %#v, want an empty list", list)
	}
	greet := &botrelay.CannedReply{AccountID: acct, Title: "  Greeting ", Text: "Hello! How can I help?"}
	must(t, s.CreateCannedReply(ctx, greet))
	if greet.ID == 0 || greet.Title != "Greeting" || greet.CreatedAt.IsZero() || !greet.UpdatedAt.Equal(greet.CreatedAt) {
		t.Fatalf("created reply = %+v", greet)
	}
	bye := &botrelay.CannedReply{AccountID: acct, Title: "bye", Text: "Goodbye!"}
	must(t, s.CreateCannedReply(ctx, bye))

	// Titles are unique per account, case-insensitively; bad input is EINVALID.
	wantCode(t, s.CreateCannedReply(ctx, &botrelay.CannedReply{AccountID: acct, Title: "GREETING", Text: "x"}), botrelay.ECONFLICT)
	wantCode(t, s.CreateCannedReply(ctx, &botrelay.CannedReply{AccountID: acct, Title: "", Text: "x"}), botrelay.EINVALID)
	wantCode(t, s.CreateCannedReply(ctx, &botrelay.CannedReply{AccountID: acct, Title: "t", Text: " "}), botrelay.EINVALID)
	wantCode(t, s.CreateCannedReply(ctx, &botrelay.CannedReply{AccountID: acct, Title: "t", Text: strings.Repeat("é", botrelay.MaxCannedText+1)}), botrelay.EINVALID)
	wantCode(t, s.CreateCannedReply(ctx, &botrelay.CannedReply{AccountID: "no-such", Title: "t", Text: "x"}), botrelay.EINVALID)

	// Listed by title, case-insensitively.
	list, err = s.CannedReplies(ctx, acct)
	must(t, err)
	if len(list) != 2 || list[0].ID != bye.ID || list[1].ID != greet.ID || list[1].Text != "Hello! How can I help?" {
		t.Fatalf("CannedReplies = %+v", list)
	}

	// Update replaces title and text; a taken title conflicts.
	greet.Title, greet.Text = "Welcome", "Welcome to Acme."
	must(t, s.UpdateCannedReply(ctx, greet))
	got, err := s.CannedReply(ctx, greet.ID)
	must(t, err)
	if got.Title != "Welcome" || got.Text != "Welcome to Acme." || got.AccountID != acct || !got.CreatedAt.Equal(greet.CreatedAt) {
		t.Fatalf("updated reply = %+v", got)
	}
	wantCode(t, s.UpdateCannedReply(ctx, &botrelay.CannedReply{ID: greet.ID, Title: "BYE", Text: "x"}), botrelay.ECONFLICT)
	wantCode(t, s.UpdateCannedReply(ctx, &botrelay.CannedReply{ID: 99999, Title: "x", Text: "x"}), botrelay.ENOTFOUND)

	// Delete.
	must(t, s.DeleteCannedReply(ctx, bye.ID))
	wantCode(t, s.DeleteCannedReply(ctx, bye.ID), botrelay.ENOTFOUND)
	_, err = s.CannedReply(ctx, bye.ID)
	wantCode(t, err, botrelay.ENOTFOUND)

	// The built-in profiles carry the permissions: agents read, admins manage.
	for _, p := range b.Profiles {
		stored, err := s.Profile(ctx, p.ID)
		must(t, err)
		view, manage := stored.Has(botrelay.PermCannedView), stored.Has(botrelay.PermCannedManage)
		switch stored.Role {
		case botrelay.RoleAdmin:
			if !view || !manage {
				t.Errorf("Admin profile: canned view %v manage %v, want both", view, manage)
			}
		case botrelay.RoleAgent, botrelay.RoleAgentManager:
			if !view || manage {
				t.Errorf("%s profile: canned view %v manage %v, want view only", stored.Name, view, manage)
			}
		}
	}
}
