/**
 * The demo tenant's data: a small manufacturing company with a head office, a warehouse and a
 * branch, the kind of client an MSP runs a helpdesk for.
 */

export type DemoAsset = { id: string; hostname: string; network: string; site: string; kind: string };
export type DemoArticle = { id: string; title: string; body: string };
export type DemoTicket = {
  subject: string;
  description: string;
  priority?: string;
  category?: string;
  requester?: { name: string; email: string };
};

export const demoAssets: DemoAsset[] = [
  { id: 'net-hq', hostname: 'hq-core-sw01', network: '10.10.0.0/16', site: 'Head office', kind: 'network' },
  { id: 'net-wh', hostname: 'wh-core-sw01', network: '10.20.0.0/16', site: 'Warehouse', kind: 'network' },
  { id: 'net-br', hostname: 'br-core-sw01', network: '10.30.0.0/16', site: 'Branch Lyon', kind: 'network' },
  { id: 'net-hq-v6', hostname: 'hq-core-sw01', network: '2001:db8:100::/48', site: 'Head office', kind: 'network' },
  { id: 'vpn-gw', hostname: 'vpn-gw01', network: '10.10.1.10/32', site: 'Head office', kind: 'vpn-gateway' },
  { id: 'dc01', hostname: 'dc01', network: '10.10.1.5/32', site: 'Head office', kind: 'domain-controller' },
  { id: 'fs01', hostname: 'fs01', network: '10.10.2.20/32', site: 'Head office', kind: 'file-server' },
  { id: 'mail01', hostname: 'mail01', network: '10.10.2.25/32', site: 'Head office', kind: 'mail-server' },
  { id: 'erp01', hostname: 'erp01', network: '10.10.3.40/32', site: 'Head office', kind: 'application' },
  { id: 'prn-hq-2f', hostname: 'prn-hq-2f', network: '10.10.5.21/32', site: 'Head office', kind: 'printer' },
  { id: 'prn-wh-dock', hostname: 'prn-wh-dock', network: '10.20.5.11/32', site: 'Warehouse', kind: 'printer' },
  { id: 'ap-wh', hostname: 'wh-ap-03', network: '10.20.8.0/24', site: 'Warehouse', kind: 'access-point' },
  { id: 'nas-br', hostname: 'br-nas01', network: '10.30.2.50/32', site: 'Branch Lyon', kind: 'nas' },
  { id: 'fw-br', hostname: 'br-fw01', network: '10.30.0.1/32', site: 'Branch Lyon', kind: 'firewall' },
];

export const demoArticles: DemoArticle[] = [
  {
    id: 'KB-101',
    title: 'VPN: AnyConnect disconnects or fails to connect',
    body: 'Check the client certificate has not expired (Settings > Certificates). Renew it from the self-service portal, then restart AnyConnect. If several users fail at once, check vpn-gw01 and its licence count.',
  },
  {
    id: 'KB-102',
    title: 'Unlocking an account and resetting a password',
    body: "Verify the caller's identity with the callback number. Unlock the account in Active Directory on dc01, reset the password, require a change at next logon. Ask the user to update the password on phones.",
  },
  {
    id: 'KB-103',
    title: 'Clearing a printer paper jam and restarting the spooler',
    body: 'Open the front panel and tray 2, remove jammed paper. If jobs stay queued, restart the Print Spooler service on the print server and clear the queue.',
  },
  {
    id: 'KB-104',
    title: 'Outlook mailbox full: archiving and quota',
    body: 'Mailbox quota is 50 GB. Enable online archive, run the archive policy, empty Deleted Items. For bounces with 552, the recipient mailbox is full.',
  },
  {
    id: 'KB-105',
    title: 'File server fs01 running out of disk space',
    body: 'Run the storage report on fs01. Common causes: scans in the Scans share, old ERP exports, shadow copies. Extend the volume in the hypervisor if needed.',
  },
  {
    id: 'KB-106',
    title: 'Warehouse Wi-Fi: handheld scanners lose connection',
    body: 'Handheld scanners roam between wh-ap-01..04. Check the access point channel plan and the DHCP scope 10.20.8.0/24 for exhaustion. Reboot wh-ap-03 if clients stay disconnected.',
  },
  {
    id: 'KB-107',
    title: 'ERP client error "Connection to server lost"',
    body: 'The ERP client needs erp01 on TCP 8443. Check the ERP service on erp01 and the database connection. After an ERP update, clear the client cache.',
  },
  {
    id: 'KB-108',
    title: 'Setting up a new employee (onboarding checklist)',
    body: 'Create the account, add groups by department, assign licence, create mailbox, prepare laptop, enrol MFA, map network drives.',
  },
  {
    id: 'KB-109',
    title: 'MFA: new phone or lost authenticator',
    body: 'Verify identity, remove the old MFA method, issue a temporary access pass, let the user enrol the new phone.',
  },
  {
    id: 'KB-110',
    title: 'Branch Lyon NAS backup failures',
    body: 'Backups of br-nas01 run at 22:00 to the head office. Failures are usually the firewall br-fw01 blocking the replication port or the NAS volume being full.',
  },
];

const people = [
  { name: 'Anna Becker', email: 'anna.becker@demo-manufacturing.example' },
  { name: 'Marc Dubois', email: 'marc.dubois@demo-manufacturing.example' },
  { name: 'Sofia Rossi', email: 'sofia.rossi@demo-manufacturing.example' },
  { name: 'Jonas Weber', email: 'jonas.weber@demo-manufacturing.example' },
  { name: 'Lea Martin', email: 'lea.martin@demo-manufacturing.example' },
];

/** Past tickets, so the context stage has history to find similar tickets in. */
const historyTexts: [subject: string, description: string, priority: string][] = [
  ['VPN not connecting from home', 'AnyConnect says the certificate is invalid.', 'Medium'],
  ['VPN drops every few minutes', 'Working from home, the VPN disconnects every 5-10 minutes.', 'Medium'],
  [
    'Cannot connect to VPN after password change',
    'VPN login fails since I changed my password this morning.',
    'Medium',
  ],
  ['VPN slow', 'File copies over the VPN are very slow today.', 'Low'],
  ['VPN outage for all remote users', 'Nobody working from home can connect to the VPN.', 'Urgent'],
  ['Account locked out', 'My account is locked after the weekend.', 'High'],
  ['Password reset needed', 'Forgot my password after holidays.', 'Medium'],
  ['Locked out again', 'Account keeps locking every hour, probably my phone.', 'Medium'],
  ['New phone, MFA not working', 'I got a new phone and cannot sign in with MFA.', 'High'],
  ['MFA prompt never arrives', 'The authenticator app does not show the sign-in request.', 'Medium'],
  ['Printer on 2nd floor jammed', 'Paper jam in prn-hq-2f, tray 2.', 'Low'],
  ['Printing does not work', 'Jobs stay in the queue for the 2nd floor printer.', 'Medium'],
  [
    'Warehouse label printer offline',
    'The dock label printer shows offline, shipping labels cannot be printed.',
    'High',
  ],
  ['Toner empty', 'Printer on 2nd floor says toner empty.', 'Low'],
  ['Scanner to email not working', 'The printer scan-to-email function fails.', 'Low'],
  ['Mailbox full', 'Outlook says my mailbox is full and I cannot send.', 'Medium'],
  ['Emails bounce from customer', 'Mails to a customer bounce with 552.', 'Medium'],
  ['Outlook keeps asking for password', 'Outlook prompts for credentials every few minutes.', 'Medium'],
  ['Shared mailbox missing', 'The sales shared mailbox disappeared from Outlook.', 'Low'],
  ['Calendar invites not received', 'I do not receive meeting invites since yesterday.', 'Medium'],
  ['File server almost full', 'fs01 has only 5% free space on the data volume.', 'High'],
  ['Cannot save to shared drive', 'Saving to the S: drive fails with disk full.', 'High'],
  ['Scans folder too big', 'The Scans share on fs01 uses 400 GB.', 'Low'],
  ['Warehouse Wi-Fi drops', 'Handheld scanners lose Wi-Fi near dock 3.', 'High'],
  ['No Wi-Fi in warehouse office', 'Laptop cannot join the warehouse wireless network.', 'Medium'],
  ['Scanners cannot get IP address', 'Several handheld scanners show no IP on Wi-Fi.', 'High'],
  ['Slow network at head office', 'Everything is slow on the network since 10:00.', 'Medium'],
  ['Internet down at branch Lyon', 'No internet at the Lyon branch, the firewall lights are orange.', 'Urgent'],
  ['ERP connection lost', 'ERP client shows "Connection to server lost" every hour.', 'High'],
  ['ERP very slow', 'Posting an order in the ERP takes a minute.', 'Medium'],
  ['ERP error after update', 'Since the ERP update the client crashes on start.', 'High'],
  ['ERP down for everyone', 'Nobody can log in to the ERP, production is blocked.', 'Urgent'],
  ['Excel crashes when opening report', 'Excel crashes opening the monthly report.', 'Low'],
  ['Teams camera not working', 'Camera is black in Teams meetings.', 'Low'],
  ['Install software request', 'Please install the CAD viewer on my laptop.', 'Low'],
  ['Licence expired', 'Adobe says my licence has expired.', 'Low'],
  ['Laptop does not boot', 'My laptop shows a blue screen at start.', 'High'],
  ['Second monitor not detected', 'The docking station does not show my second screen.', 'Low'],
  ['Keyboard broken', 'Some keys on my keyboard do not work.', 'Low'],
  ['Laptop battery drains fast', 'Battery lasts one hour.', 'Low'],
  ['New employee starting Monday', 'Please set up account and laptop for a new accountant.', 'Medium'],
  ['Access to sales folder', 'I need access to the Sales share.', 'Low'],
  ['Lyon NAS backup failed', 'Backup job for br-nas01 failed last night.', 'Medium'],
  ['Lyon NAS backup failed again', 'Second night the NAS backup failed, replication error.', 'High'],
  ['Phishing email received', 'I received a suspicious email asking for my password.', 'High'],
  ['Possible ransomware', 'Files on S: have strange extensions, security breach?', 'Urgent'],
  ['Website down', 'The company website does not load.', 'High'],
  ['Phone system not ringing', 'Desk phones at reception do not ring.', 'Medium'],
  ['Projector in meeting room', 'Meeting room projector shows no signal.', 'Low'],
  ['How do I set an out-of-office?', 'Question: how do I set an automatic reply?', 'Low'],
];

export const demoHistory: (DemoTicket & { id: string })[] = historyTexts.map(
  ([subject, description, priority], index) => ({
    id: `H-${1001 + index}`,
    subject,
    description,
    priority,
    requester: people[index % people.length]!,
  }),
);

/** The tickets the demo sends and shows: realistic wording, some with IP addresses of known and unknown hosts. */
export const demoNewTickets: DemoTicket[] = [
  {
    subject: 'VPN disconnects every few minutes',
    description: 'Working from home today, AnyConnect drops every 5 minutes. Gateway 10.10.1.10 answers ping.',
    priority: 'Medium',
  },
  {
    subject: 'Printer on 2nd floor jammed again',
    description: 'prn-hq-2f (10.10.5.21) shows paper jam in tray 2 and nothing prints.',
    priority: 'Low',
  },
  {
    subject: 'Outage: ERP down for all users',
    description:
      'Nobody can log in to the ERP since 08:15. erp01 at 10.10.3.40 does not answer. Production is blocked.',
    priority: 'High',
  },
  {
    subject: 'Account locked out after holidays',
    description: 'I cannot log in, it says my account is locked.',
    priority: 'Medium',
  },
  {
    subject: 'Mailbox full, cannot send',
    description: 'Outlook says my mailbox is full. I need to send quotes today.',
    priority: 'Medium',
  },
  {
    subject: 'Handheld scanners lose Wi-Fi at dock 3',
    description: 'Scanners at dock 3 drop off Wi-Fi. One scanner had IP 10.20.8.57 before it dropped.',
    priority: 'High',
  },
  {
    subject: 'fs01 disk almost full',
    description: 'Monitoring says the data volume on fs01 (10.10.2.20) has 3% free disk space.',
    priority: 'High',
  },
  {
    subject: 'New phone, MFA prompt does not arrive',
    description: 'I switched phones and the authenticator never shows the sign-in request.',
    priority: 'Medium',
  },
  {
    subject: 'Lyon NAS backup failed',
    description: 'Backup of br-nas01 (10.30.2.50) to head office failed last night, replication error.',
    priority: 'Medium',
  },
  {
    subject: 'Internet down at branch Lyon',
    description: 'No internet in Lyon since 9:00, firewall 10.30.0.1 has an orange light. All users affected.',
    priority: 'High',
  },
  {
    subject: 'Warehouse label printer offline',
    description: 'The dock label printer 10.20.5.11 is offline, we cannot print shipping labels.',
    priority: 'High',
  },
  {
    subject: 'Emails to customer bounce',
    description: 'Mails to orders@customer.example bounce with 552 mailbox full.',
    priority: 'Low',
  },
  {
    subject: 'Laptop blue screen at start',
    description: 'My laptop shows a blue screen (BSOD) when it boots.',
    priority: 'High',
  },
  {
    subject: 'Please install CAD viewer',
    description: 'Request for the CAD viewer on my laptop, when you have time.',
    priority: 'Low',
  },
  {
    subject: 'Slow network at head office',
    description: 'Everything is slow since 10:00, ping to 10.10.1.5 is 300 ms. IPv6 host 2001:db8:100::42 also slow.',
    priority: 'Medium',
  },
  {
    subject: 'Cannot reach unknown server',
    description: 'A supplier asked us to reach 192.168.77.10 over the VPN but it does not answer.',
    priority: 'Low',
  },
  {
    subject: 'ERP "Connection to server lost"',
    description: 'The ERP client loses the connection to the server every hour.',
    priority: 'Medium',
  },
  {
    subject: 'Outlook keeps asking for password',
    description: 'Since the password change Outlook prompts for credentials.',
    priority: 'Medium',
  },
  {
    subject: 'Suspicious email asking for password',
    description: 'Got an email pretending to be IT asking for my password. I did not click.',
    priority: 'High',
  },
  {
    subject: 'How do I map the shared drive?',
    description: 'Question: how do I map the S: drive on my new laptop?',
    priority: 'Low',
  },
].map((ticket, index) => ({ ...ticket, requester: people[index % people.length]! }));
