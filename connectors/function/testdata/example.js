// An example bot in the shape of a LivePerson Functions "Third-Party Bots
// Custom Integration" function: it runs unchanged there and in botrelay.
function lambda(input, callback) {
  const {
    message = "",
    convId,
    event: { name: eventName = "" } = {},
    context: {
      lpEvent: { lastConsumerMessage = "", event: { type: eventType = "", content = {} } = {} } = {},
      lpSdes: { unauthenticatedSdes = {} } = {},
    } = {},
  } = input.payload;

  const payload = { messages: [], context: {} };
  const text = message.trim().toLowerCase();

  if (eventName === "WELCOME") {
    payload.messages.push("Welcome! I am the demo bot.");
    if (lastConsumerMessage) {
      payload.messages.push(`You asked: "${lastConsumerMessage}". Let me look into it.`);
    }
  } else if (message === "com.liveperson.bot-connectors.consumer.send-rich-content" && eventType === "RichContentEvent") {
    const map = (content.elements || []).find((e) => e.type === "map");
    payload.messages.push(map ? `Thanks, you are at ${map.la}, ${map.lo}.` : "Thanks for the rich content.");
  } else if (message === "com.liveperson.bot-connectors.consumer.send-file") {
    payload.messages.push("I cannot read files, sorry.");
  } else if (text === "hi" || text === "hello") {
    const name = ((unauthenticatedSdes.personalInfo || {}).personalInfo || {}).name;
    payload.messages.push(name ? `Hi ${name}! How can I help you today?` : "Hi there! How can I help you today?");
    payload.context.intentId = "greeting";
    payload.context.intentName = "Greeting";
    payload.context.confidenceScore = 1;
  } else if (text === "menu") {
    payload.messages.push({
      structuredContent: {
        message: "What would you like to do?",
        quickReplies: {
          type: "quickReplies",
          itemsPerRow: 8,
          replies: [
            { type: "button", title: "Talk to an agent", click: { actions: [{ type: "publishText", text: "agent" }], metadata: [{ type: "ExternalId", id: "menu-agent" }] } },
            { type: "button", title: "Say goodbye", click: { actions: [{ type: "publishText", text: "bye" }], metadata: [{ type: "ExternalId", id: "menu-bye" }] } },
          ],
        },
      },
      metadata: [{ type: "ExternalId", id: "menu" }],
    });
  } else if (text === "card") {
    payload.messages.push("Here is our offer:", { delay: 2, typing: true }, {
      structuredContent: {
        type: "vertical",
        elements: [
          { type: "text", text: "Spring sale", tooltip: "Spring sale" },
          { type: "button", title: "Show me", click: { actions: [{ type: "publishText", text: "show me" }] } },
        ],
      },
      metadata: { type: "ExternalId", id: "offer-1" },
      encodedMetadata: "b2ZmZXI=",
    });
    payload.context.encodedMetadata = "ZGVtbw==";
  } else if (text === "agent") {
    payload.messages.push("Let me find a human for you.", {
      text: `Consumer asked for an agent in conversation ${convId}.`,
      messageAudience: "AGENTS_AND_MANAGERS",
    });
    payload.context.action = "TRANSFER";
    payload.context.actionParameters = { skill: "human" };
  } else if (text === "urgent") {
    payload.messages.push("I marked this conversation as urgent.");
    payload.context.action = "CHANGE_TTR";
    payload.context.actionParameters = { ttrType: "URGENT" };
  } else if (text === "bye") {
    payload.messages.push("Goodbye, have a nice day!");
    payload.context.action = "CLOSE_CONVERSATION";
    payload.context.actionParameters = { withoutPcs: true };
  } else if (text === "") {
    payload.messages.push({ delay: 1, typing: false });
  } else {
    payload.messages.push("I am sorry, I don't understand. Type menu to see what I can do.");
  }

  callback(null, payload);
}
