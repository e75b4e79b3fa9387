'use strict';
// A LivePerson node-agent-sdk agent driven by botrelay's hub tests
// (hub/lpsdk_test.go). It logs in with an API key through the domain lookup,
// goes ONLINE, subscribes to its conversations and routing tasks, accepts
// every ring, and then plays one of two parts:
//
//   MODE=first   on the consumer's "hello bot": replies with a text and a
//                rich-content card, then transfers the conversation to skill
//                TRANSFER_SKILL (removing itself).
//   MODE=second  once assigned, reads the history; on the consumer's
//                "hello bot": replies with a text and closes the conversation.
//   MODE=handback  a human agent a bot handed the conversation to: on the
//                consumer's "thanks, one more question" replies with a text
//                and transfers the conversation back to skill TRANSFER_SKILL
//                (removing itself).
//
// Every step is reported as one JSON line on standard output; any SDK error
// is reported as {"ev":"error"} and ends the process with status 1.
//
// Environment: LP_ACCOUNT, LP_CSDS (host:port), LP_USERNAME, LP_APP_KEY,
// LP_SECRET, LP_ACCESS_TOKEN, LP_ACCESS_TOKEN_SECRET, MODE, TRANSFER_SKILL.

const Agent = require('node-agent-sdk').Agent;

const env = process.env;
const mode = env.MODE || 'first';
const trigger = mode === 'handback' ? 'thanks, one more question' : 'hello bot';

function report(ev, fields) {
    process.stdout.write(JSON.stringify(Object.assign({ev: ev, mode: mode}, fields || {})) + '\n');
}

function fail(step, err) {
    report('error', {step: step, error: String((err && (err.message || JSON.stringify(err.body || err))) || err)});
    process.exit(1);
}

const agent = new Agent({
    accountId: env.LP_ACCOUNT,
    username: env.LP_USERNAME,
    appKey: env.LP_APP_KEY,
    secret: env.LP_SECRET,
    accessToken: env.LP_ACCESS_TOKEN,
    accessTokenSecret: env.LP_ACCESS_TOKEN_SECRET,
    csdsDomain: env.LP_CSDS,
});

const assigned = {};   // convId -> true once we subscribed to its messages
const seen = {};       // dialogId:sequence -> true
const done = {};       // convId -> true once the part was played

agent.on('connected', () => {
    report('connected', {agentId: agent.agentId, legacyId: agent.__oldAgentId});
    agent.setAgentState({availability: 'ONLINE'}, (err) => {
        if (err) return fail('setAgentState', err);
        agent.subscribeExConversations({agentIds: [agent.agentId], convState: ['OPEN']}, (err, resp) => {
            if (err) return fail('subscribeExConversations', err);
            agent.subscribeRoutingTasks({}, (err) => {
                if (err) return fail('subscribeRoutingTasks', err);
                report('ready', {subscriptionId: resp && resp.subscriptionId});
            });
        });
    });
});

agent.on('routing.RoutingTaskNotification', (body) => {
    body.changes.forEach((c) => {
        if (c.type !== 'UPSERT') return;
        c.result.ringsDetails.forEach((ring) => {
            if (ring.ringState !== 'WAITING') return;
            agent.updateRingState({ringId: ring.ringId, ringState: 'ACCEPTED'}, (err) => {
                if (err) return fail('updateRingState', err);
                report('accepted', {conversationId: c.result.conversationId, ringId: ring.ringId});
            });
        });
    });
});

agent.on('cqm.ExConversationChangeNotification', (body) => {
    body.changes.forEach((c) => {
        if (c.type !== 'UPSERT') return;
        const d = c.result.conversationDetails;
        const convId = c.result.convId;
        if (d.__myRole !== 'ASSIGNED_AGENT' || assigned[convId]) return;
        assigned[convId] = true;
        const mine = d.participants.filter((p) => p.role === 'ASSIGNED_AGENT').map((p) => p.id);
        report('assigned', {conversationId: convId, assignedPids: mine, skillId: d.skillId});
        agent.subscribeMessagingEvents({dialogId: convId, fromSeq: 0}, (err) => {
            if (err) return fail('subscribeMessagingEvents', err);
        });
    });
});

agent.on('ms.MessagingEventNotification', (body) => {
    body.changes.forEach((c) => {
        const key = body.dialogId + ':' + c.sequence;
        if (!c.event || c.event.type !== 'ContentEvent' || seen[key]) return;
        seen[key] = true;
        if (c.__isMe) return;
        report('text', {conversationId: body.dialogId, sequence: c.sequence, message: c.event.message, originatorId: c.originatorId});
        if (c.event.message === trigger && !done[body.dialogId]) {
            done[body.dialogId] = true;
            play(body.dialogId);
        }
    });
});

function transfer(convId) {
    agent.updateConversationField({conversationId: convId, conversationField: [
        {field: 'ParticipantsChange', type: 'REMOVE', role: 'ASSIGNED_AGENT'},
        {field: 'Skill', type: 'UPDATE', skill: env.TRANSFER_SKILL},
    ]}, null, [{type: 'ActionReason', reason: 'escalated_by_bot'}], (err) => {
        if (err) return fail('transfer', err);
        report('transferred', {conversationId: convId, skill: env.TRANSFER_SKILL});
    });
}

function play(convId) {
    if (mode === 'handback') {
        agent.publishEvent({dialogId: convId, event: {type: 'ContentEvent', contentType: 'text/plain', message: 'Let me pass you back to our bot.'}}, (err, resp) => {
            if (err) return fail('publish text', err);
            report('published', {sequence: resp.sequence});
            transfer(convId);
        });
    } else if (mode === 'first') {
        agent.publishEvent({dialogId: convId, event: {type: 'ContentEvent', contentType: 'text/plain', message: 'hi from sdk'}}, (err, resp) => {
            if (err) return fail('publish text', err);
            report('published', {sequence: resp.sequence});
            const card = {type: 'vertical', elements: [
                {type: 'text', text: 'botrelay card', tooltip: 'card'},
                {type: 'button', title: 'Yes', click: {actions: [{type: 'publishText', text: 'yes'}]}},
            ]};
            agent.publishEvent({dialogId: convId, event: {type: 'RichContentEvent', content: card}}, (err, resp) => {
                if (err) return fail('publish card', err);
                report('published-card', {sequence: resp.sequence});
                transfer(convId);
            });
        });
    } else {
        agent.publishEvent({dialogId: convId, event: {type: 'ContentEvent', contentType: 'text/plain', message: 'second agent here'}}, (err) => {
            if (err) return fail('publish text', err);
            agent.updateConversationField({conversationId: convId, conversationField: [
                {field: 'ConversationStateField', conversationState: 'CLOSE'},
            ]}, (err) => {
                if (err) return fail('close', err);
                report('closed', {conversationId: convId});
            });
        });
    }
}

agent.on('error', (err) => fail('sdk', err));
agent.on('closed', (data) => report('socket-closed', {data: data}));

process.on('SIGTERM', () => {
    agent.dispose();
    process.exit(0);
});
