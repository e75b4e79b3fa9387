package watson

import (
	"github.com/botrelay/botrelay"
)

// Error codes (without botrelay.ErrorCodePrefix). All but the IAM and
// test-connection codes are the reference product's (spec Appendix A).
const (
	// CodeSendQuery: the v1 message call failed (transport, 5xx, 429,
	// credentials).
	CodeSendQuery = "aivendor.watson.send-query"
	// CodeWatsonError: Watson refused the v1 request (4xx other than
	// credentials: unknown workspace, bad version, bad body).
	CodeWatsonError = "aivendor.watson.watson-error"
	// CodeSendQueryV2: a v2 message call failed.
	CodeSendQueryV2 = "aivendor.watsonv2.send-query"
	// CodeCreateSession: a v2 session could not be created.
	CodeCreateSession = "aivendor.watsonv2.create-session"
	// CodeInvalidSession: Watson said the v2 session is invalid and a new
	// one could not be used either.
	CodeInvalidSession = "aivendor.watsonv2.invalid-session"

	// Reply parser codes (both versions).
	CodeUndefinedStructuredContent = "aivendor.watson.parser.custom.undefined-structured-content"
	CodeUndefinedSource            = "aivendor.watson.parser.image.undefined-source"
	CodeUndefinedOptions           = "aivendor.watson.parser.list.undefined-options"
	CodeFormatNotSupported         = "aivendor.watson.message-format-not-supported"
	CodeUndefinedText              = "aivendor.watson.parser.text-and-custom.undefined-text"
	CodeUndefinedTime              = "aivendor.watson.parser.pause.undefined-time"
	CodeParseMessageFailed         = "aivendor.watson.parse-message.get-parse-message-failed"
	CodeParserCrashed              = "aivendor.watson.index.generic-parser-crashed"

	// CodeIAMToken (botrelay's, after Appendix A's pattern): the IAM token
	// exchange failed.
	CodeIAMToken   = "aivendor.watson.iam-token"
	CodeIAMTokenV2 = "aivendor.watsonv2.iam-token"
	// CodeTestConnection (botrelay's): the connection test's Watson call
	// failed.
	CodeTestConnection   = "aivendor.watson.test-connection"
	CodeTestConnectionV2 = "aivendor.watsonv2.test-connection"
)

// parserCodes are the reply parser's codes, both versions.
var parserCodes = []string{CodeUndefinedStructuredContent, CodeUndefinedSource, CodeUndefinedOptions,
	CodeFormatNotSupported, CodeUndefinedText, CodeUndefinedTime, CodeParseMessageFailed, CodeParserCrashed}

// errorCodesV1 and errorCodesV2 are each version's codes, as
// docs/vendors/watson.md lists them.
var (
	errorCodesV1 = botrelay.VendorErrors{Timeout: CodeSendQuery,
		Codes: append([]string{CodeSendQuery, CodeWatsonError, CodeIAMToken, CodeTestConnection}, parserCodes...)}
	errorCodesV2 = botrelay.VendorErrors{Timeout: CodeSendQueryV2,
		Codes: append([]string{CodeSendQueryV2, CodeCreateSession, CodeInvalidSession, CodeIAMTokenV2, CodeTestConnectionV2}, parserCodes...)}
)

func vendorErr(class error, code, format string, args ...any) *botrelay.VendorError {
	return botrelay.NewVendorError(class, code, format, args...)
}
