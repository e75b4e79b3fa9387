package botrelay

import (
	"slices"
	"time"
)

// ProfileID identifies a profile within its account.
type ProfileID int64

// Permission is one named right. Every management route checks exactly one.
type Permission string

// The permissions. The bot verbs follow spec §1.3; the rest cover the other
// management resources and the agent console.
const (
	PermBotView    Permission = "bot:view"
	PermBotCreate  Permission = "bot:create"
	PermBotStart   Permission = "bot:start"
	PermBotStop    Permission = "bot:stop"
	PermBotEdit    Permission = "bot:edit"
	PermBotDelete  Permission = "bot:delete"
	PermUserView   Permission = "user:view"
	PermUserManage Permission = "user:manage"
	PermSkillView  Permission = "skill:view"
	PermSkillEdit  Permission = "skill:manage"
	PermProfView   Permission = "profile:view"
	PermProfEdit   Permission = "profile:manage"
	// PermConvHandle lets a user log in to the agent console (or the
	// messaging protocol) and handle conversations routed to its skills.
	PermConvHandle Permission = "conversation:handle"
	// PermConvViewAll is LivePerson's "View agents' conversations in group":
	// read conversations the user is not part of. Survey bots need it.
	PermConvViewAll Permission = "conversation:view-all"
	// PermCannedView lets a user read the account's canned replies (the
	// agent console lists them); PermCannedManage lets it add, edit and
	// delete them.
	PermCannedView   Permission = "canned:view"
	PermCannedManage Permission = "canned:manage"
	// PermWebhookManage lets a user list, create, change and delete the
	// account's webhook subscriptions and read their delivery logs. Only
	// the built-in Admin profile has it.
	PermWebhookManage Permission = "webhook:manage"
)

// AllPermissions lists every permission, in display order.
var AllPermissions = []Permission{
	PermBotView, PermBotCreate, PermBotStart, PermBotStop, PermBotEdit, PermBotDelete,
	PermUserView, PermUserManage, PermSkillView, PermSkillEdit, PermProfView, PermProfEdit,
	PermConvHandle, PermConvViewAll, PermWebhookManage,
	PermCannedView, PermCannedManage,
}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { return slices.Contains(AllPermissions, p) }

// Role is the built-in profile a profile derives from. LivePerson's four
// built-in profiles are Admin, Campaign Manager, Agent Manager and Agent.
type Role string

// The roles.
const (
	RoleAdmin           Role = "ADMIN"
	RoleCampaignManager Role = "CAMPAIGN_MANAGER"
	RoleAgentManager    Role = "AGENT_MANAGER"
	RoleAgent           Role = "AGENT"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleCampaignManager, RoleAgentManager, RoleAgent:
		return true
	}
	return false
}

// Profile is a named set of permissions assigned to users. The four built-in
// profiles are seeded with every account and cannot be changed or deleted;
// custom profiles name a base role and list exactly the permissions they grant.
type Profile struct {
	ID          ProfileID
	AccountID   AccountID
	Name        string // unique within the account
	Description string
	Role        Role
	BuiltIn     bool
	Permissions []Permission // sorted, without duplicates
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Has reports whether the profile grants p.
func (p *Profile) Has(perm Permission) bool { return slices.Contains(p.Permissions, perm) }

// Validate normalises p (sorts and de-duplicates Permissions) and reports the
// first rule it breaks.
func (p *Profile) Validate() error {
	p.Name = trimmed(p.Name)
	p.Description = trimmed(p.Description)
	if p.Name == "" || len(p.Name) > 128 {
		return Errorf(EINVALID, "name must be 1 to 128 bytes")
	}
	if len(p.Description) > 1024 {
		return Errorf(EINVALID, "description must be at most 1024 bytes")
	}
	if !p.Role.Valid() {
		return Errorf(EINVALID, "role must be one of %s, %s, %s, %s", RoleAdmin, RoleCampaignManager, RoleAgentManager, RoleAgent)
	}
	for _, perm := range p.Permissions {
		if !perm.Valid() {
			return Errorf(EINVALID, "permission %q is not known", string(perm))
		}
	}
	slices.Sort(p.Permissions)
	p.Permissions = slices.Compact(p.Permissions)
	return nil
}

// BuiltInProfiles returns fresh copies of the four built-in profiles with
// their permissions. Agent and Agent Manager may stop, edit and delete bots
// but not create or start them (spec §1.3); a custom profile can grant those.
func BuiltInProfiles() []*Profile {
	botManage := []Permission{PermBotView, PermBotStop, PermBotEdit, PermBotDelete}
	mk := func(name string, role Role, desc string, perms ...Permission) *Profile {
		p := &Profile{Name: name, Role: role, BuiltIn: true, Description: desc, Permissions: perms}
		_ = p.Validate() // sorts; the lists above are valid
		return p
	}
	return []*Profile{
		mk("Admin", RoleAdmin, "Full access to the account.", slices.Clone(AllPermissions)...),
		mk("Campaign Manager", RoleCampaignManager, "Creates, starts and manages bots.",
			PermBotView, PermBotCreate, PermBotStart, PermBotStop, PermBotEdit, PermBotDelete,
			PermUserView, PermSkillView, PermProfView),
		mk("Agent Manager", RoleAgentManager, "Manages agents and their conversations; stops, edits and deletes bots.",
			append(slices.Clone(botManage), PermUserView, PermSkillView, PermProfView, PermConvHandle, PermConvViewAll, PermCannedView)...),
		mk("Agent", RoleAgent, "Handles conversations; stops, edits and deletes bots.",
			append(slices.Clone(botManage), PermConvHandle, PermCannedView)...),
	}
}
