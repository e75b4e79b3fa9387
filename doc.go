// Package botrelay holds the domain of the botrelay bot connector platform:
// the account model (accounts, users, skills, profiles, permissions, bots),
// the error codes shared by every layer, and the storage contracts that the
// implementations in sub-packages satisfy.
//
// The package imports only the standard library. Implementations live in
// packages named after what they wrap (sqlstore, secretbox, ...), and
// cmd/botrelay wires them together.
package botrelay
