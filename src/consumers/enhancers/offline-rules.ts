import type { Enhancement } from '../../events.js';

// The keyword tables of the offline enhancer: categories with their advice, and the words that move the priority.

export type Priority = Enhancement['suggestedPriority'];

export type CategoryRule = Readonly<{
  category: string;
  /** Whole words or phrases, lower case; a match in the subject counts double. */
  keywords: readonly string[];
  /** Asset kinds (from the context) that point at this category. */
  assetKinds: readonly string[];
  likelyCause: string;
  nextSteps: readonly string[];
  /** Wins whenever it matches at all, over any topic with more matches: a phishing mail is a security case first. */
  overrides?: boolean;
}>;

/** In order: on a tie the earlier rule wins. */
export const categoryRules: readonly CategoryRule[] = [
  {
    category: 'Security',
    keywords: ['phishing', 'suspicious', 'ransomware', 'malware', 'virus', 'security breach', 'hacked', 'compromised'],
    assetKinds: [],
    overrides: true,
    likelyCause: 'A possible security incident: a phishing attempt or malware on a device or account.',
    nextSteps: [
      'Do not let the user interact further with the message or file; isolate the device if anything was opened',
      'Check sign-ins and mailbox rules of the affected account; reset its password if in doubt',
      'Report and block the sender or indicator, and check whether other users received it',
    ],
  },
  {
    category: 'VPN',
    keywords: ['vpn', 'anyconnect', 'globalprotect', 'wireguard', 'openvpn', 'tunnel', 'remote access'],
    assetKinds: ['vpn', 'vpn-gateway'],
    likelyCause:
      'The VPN client cannot establish or keep a tunnel: an expired certificate or password, a client update, or a problem on the VPN gateway.',
    nextSteps: [
      'Check whether other remote users can connect (gateway status and logs)',
      "Verify the user's account and certificate are valid and not locked",
      'Reinstall or update the VPN client and retry from another network',
    ],
  },
  {
    category: 'Network',
    keywords: [
      'network',
      'wifi',
      'wi-fi',
      'wireless',
      'ethernet',
      'switch',
      'router',
      'dns',
      'dhcp',
      'internet',
      'ping',
      'latency',
      'packet loss',
      'firewall',
      'unreachable',
      'slow connection',
    ],
    assetKinds: ['switch', 'router', 'firewall', 'access-point', 'network'],
    likelyCause:
      'Loss of connectivity on the network segment involved: a switch, access point, DHCP/DNS or firewall problem.',
    nextSteps: [
      'Ping the affected hosts and their gateway; compare with another host on the same network',
      'Check the switch or access point serving the site for errors and recent changes',
      'Check DHCP leases and DNS resolution for the affected clients',
    ],
  },
  {
    category: 'Printer',
    keywords: ['printer', 'print', 'printing', 'toner', 'paper jam', 'jammed', 'spooler', 'scanner'],
    assetKinds: ['printer', 'mfp'],
    likelyCause:
      'The printer or its queue is stuck: a paper jam, empty toner, an offline device or a hung print spooler.',
    nextSteps: [
      "Check the printer's display for jams, toner and network status",
      'Clear the print queue and restart the print spooler on the print server',
      'Print a test page from the server to isolate client or device',
    ],
  },
  {
    category: 'Email',
    keywords: [
      'email',
      'e-mail',
      'mail',
      'outlook',
      'mailbox',
      'exchange',
      'smtp',
      'bounce',
      'bounced',
      'calendar',
      'inbox',
    ],
    assetKinds: ['mail-server', 'exchange'],
    likelyCause:
      'A mailbox, client profile or mail flow problem: a full mailbox, a broken Outlook profile or a transport rule or connector failing.',
    nextSteps: [
      'Check mail flow and the message trace for the affected address',
      'Check mailbox quota and the Outlook profile; test in webmail',
      'Look for bounce messages and their status codes',
    ],
  },
  {
    category: 'Account / Password',
    keywords: [
      'password',
      'locked out',
      'lockout',
      'locked',
      'reset',
      'mfa',
      '2fa',
      'login',
      'log in',
      'sign in',
      'sign-in',
      'credentials',
      'account',
    ],
    assetKinds: ['domain-controller', 'identity'],
    likelyCause:
      'The account is locked or its password expired, often after a password change that a device still uses with the old password.',
    nextSteps: [
      "Check the account's lockout status and the source of failed logins",
      "Verify the requester's identity, then reset the password or MFA method",
      'Ask the user to update saved passwords on phones and other devices',
    ],
  },
  {
    category: 'Storage',
    keywords: ['disk', 'drive', 'storage', 'disk space', 'full', 'quota', 'volume', 'backup', 'file share', 'nas'],
    assetKinds: ['file-server', 'nas', 'storage', 'backup'],
    likelyCause: 'A volume is out of space or failing: large files, logs or snapshots filling it, or a degraded disk.',
    nextSteps: [
      'Check free space and the largest folders on the affected volume',
      'Check disk health (SMART, RAID status) and recent backup jobs',
      'Free or extend space, then confirm the service recovered',
    ],
  },
  {
    category: 'Hardware',
    keywords: [
      'laptop',
      'desktop',
      'monitor',
      'screen',
      'keyboard',
      'mouse',
      'docking',
      'dock',
      'battery',
      'blue screen',
      'bsod',
      'overheating',
    ],
    assetKinds: ['workstation', 'laptop'],
    likelyCause: 'A fault in the device or a peripheral, or its driver.',
    nextSteps: [
      "Collect the device's model, serial number and any error shown",
      'Try another cable, port or peripheral to isolate the fault',
      'Update drivers or arrange a replacement device',
    ],
  },
  {
    category: 'Software',
    keywords: [
      'install',
      'installation',
      'license',
      'licence',
      'application',
      'app',
      'crash',
      'crashes',
      'update',
      'upgrade',
      'error message',
      'excel',
      'teams',
      'erp',
      'crm',
    ],
    assetKinds: ['server', 'application'],
    likelyCause: 'An application fault after an update, a missing licence or a corrupt installation.',
    nextSteps: [
      'Record the exact error message and when it started',
      'Check for recent updates and licence status',
      'Repair or reinstall the application for the user',
    ],
  },
];

export const general = {
  category: 'General',
  likelyCause: 'Not enough information in the ticket to tell.',
  nextSteps: ['Contact the requester for details: what fails, since when, and who else is affected'],
} as const;

/** Words that move the priority up, strongest first. */
export const urgentSignals = [
  'outage',
  'all users',
  'everyone',
  'whole office',
  'entire office',
  'company-wide',
  'production down',
  'site down',
  'ransomware',
  'security breach',
  'data loss',
];
export const highSignals = [
  'down',
  'not working',
  'cannot work',
  "can't work",
  'unable to work',
  'urgent',
  'asap',
  'critical',
  'blocked',
  'several users',
  'multiple users',
];
export const lowSignals = [
  'question',
  'how do i',
  'how to',
  'request for',
  'when you have time',
  'no rush',
  'nice to have',
  'new user',
  'feature request',
];

/** Similar past tickets at or above this rank, this many of them, suggest a wider incident. */
export const incidentSimilarRank = 0.3;
export const incidentSimilarCount = 3;
