// The demo bot botrelay seeds and starts on its first start. It is a
// function bot in the shape of LivePerson Functions' Third-Party Bots
// Custom Integration: lambda(input, callback) receives input.payload and
// answers with {messages, context}.
function lambda(input, callback) {
  var payload = input.payload || {};
  var text = String(payload.message || "").trim().toLowerCase();
  var menu = {
    message: "What would you like to do?",
    quickReplies: {
      type: "quickReplies",
      itemsPerRow: 4,
      replies: [
        { type: "button", title: "Opening hours", click: { actions: [{ type: "publishText", text: "hours" }] } },
        { type: "button", title: "What is botrelay?", click: { actions: [{ type: "publishText", text: "about" }] } },
        { type: "button", title: "Talk to an agent", click: { actions: [{ type: "publishText", text: "agent" }] } },
        { type: "button", title: "Bye", click: { actions: [{ type: "publishText", text: "bye" }] } }
      ]
    }
  };
  var greetings = ["hi", "hello", "hey", "hallo", "start", ""];

  if ((payload.event && payload.event.name === "WELCOME") || greetings.indexOf(text) >= 0) {
    return callback(null, {
      messages: ["Hello! I am the botrelay demo bot.", { structuredContent: menu }]
    });
  }
  if (text.indexOf("agent") >= 0 || text.indexOf("human") >= 0) {
    return callback(null, {
      messages: [
        "Transferring you to a human agent. Please hold on.",
        { text: "The consumer asked for a human agent.", messageAudience: "AGENTS_AND_MANAGERS" }
      ],
      context: { action: "TRANSFER", actionParameters: { skill: "human" } }
    });
  }
  if (text === "bye" || text === "goodbye" || text === "thanks") {
    return callback(null, {
      messages: ["Thank you for chatting. Goodbye!"],
      context: { action: "CLOSE_CONVERSATION", actionParameters: { withoutPcs: true } }
    });
  }
  if (text.indexOf("hour") >= 0) {
    return callback(null, { messages: ["We are open around the clock: bots never sleep.", { structuredContent: menu }] });
  }
  if (text.indexOf("about") >= 0 || text.indexOf("botrelay") >= 0) {
    return callback(null, {
      messages: [
        "botrelay puts AI bots from many vendors in front of your customers and hands over to people when needed.",
        { delay: 1, typing: true },
        { structuredContent: menu }
      ]
    });
  }
  return callback(null, {
    messages: ["Sorry, I did not understand \"" + payload.message + "\".", { structuredContent: menu }]
  });
}
