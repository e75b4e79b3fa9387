'use strict';
// A Bot Framework bot (botbuilder CloudAdapter, no app id: the local stack
// has no authentication) that answers the directline connector's Go tests:
//
//   WELCOME action (channelData.action.name) or startConversation event
//                      → "Welcome to the Bot Framework test bot!"
//   "quick"            → a text with suggestedActions (imBack buttons)
//   "card"             → a hero card
//   "agent"            → a text and a TRANSFER action to skill human in channelData
//   "context"          → the channelData.context it received, as JSON text
//   anything else      → "You said: <text>"
//
//   PORT=0 node bot.js      (PORT or the first argument; 0 picks a free port)
//
// Once listening it prints {"listening":<port>} on stdout; the messaging
// endpoint is /api/messages.
const express = require('express');
const {
  CardFactory,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  MessageFactory,
} = require('botbuilder');

const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
adapter.onTurnError = async (context, error) => {
  console.error(`bot error: ${error && error.stack ? error.stack : error}`);
  await context.sendActivity('The bot failed.');
};

const WELCOME = 'Welcome to the Bot Framework test bot!';

async function onTurn(context) {
  const a = context.activity;
  const cd = a.channelData || {};
  if (a.type === 'event' && a.name === 'startConversation') {
    await context.sendActivity(WELCOME);
    return;
  }
  if (a.type !== 'message') {
    return; // conversationUpdate and the rest: nothing to say
  }
  if (cd.action && cd.action.name === 'WELCOME') {
    await context.sendActivity(WELCOME);
    return;
  }
  const text = (a.text || '').trim();
  switch (text) {
    case 'quick':
      await context.sendActivity(MessageFactory.suggestedActions(['Yes', 'No'], 'Do you like it?'));
      return;
    case 'card':
      await context.sendActivity(MessageFactory.attachment(CardFactory.heroCard(
        'Botrelay',
        'Bots as agents',
        ['https://example.com/botrelay.png'],
        [{ type: 'imBack', title: 'Tell me more', value: 'more' },
          { type: 'openUrl', title: 'Website', value: 'https://example.com/' }],
      )));
      return;
    case 'agent':
      await context.sendActivity({
        type: 'message',
        text: 'Transferring you to a human.',
        channelData: { action: { name: 'TRANSFER', parameters: { skill: 'human' } } },
      });
      return;
    case 'context':
      await context.sendActivity(JSON.stringify(cd.context || null));
      return;
    default:
      await context.sendActivity(`You said: ${text}`);
  }
}

const port = Number(process.argv[2] || process.env.PORT || 0);
const app = express();
app.use(express.json());
app.post('/api/messages', (req, res) => adapter.process(req, res, onTurn));
const server = app.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
