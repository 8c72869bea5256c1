// Event text for SEL records, IPMI v2.0 §42.1 tables 42-2 (generic) and 42-3 (sensor-specific).
// Event data 1 bits 3:0 are the offset into these tables.

const THRESHOLD = [
  'Lower Non-critical going low', 'Lower Non-critical going high', 'Lower Critical going low', 'Lower Critical going high',
  'Lower Non-recoverable going low', 'Lower Non-recoverable going high', 'Upper Non-critical going low', 'Upper Non-critical going high',
  'Upper Critical going low', 'Upper Critical going high', 'Upper Non-recoverable going low', 'Upper Non-recoverable going high',
];

/** Generic event/reading types 0x02–0x0C, table 42-2. */
const GENERIC: Record<number, readonly string[]> = {
  0x02: ['Transition to Idle', 'Transition to Active', 'Transition to Busy'],
  0x03: ['State Deasserted', 'State Asserted'],
  0x04: ['Predictive Failure Deasserted', 'Predictive Failure Asserted'],
  0x05: ['Limit Not Exceeded', 'Limit Exceeded'],
  0x06: ['Performance Met', 'Performance Lags'],
  0x07: ['Transition to OK', 'Transition to Non-critical from OK', 'Transition to Critical from less severe', 'Transition to Non-recoverable from less severe', 'Transition to Non-critical from more severe', 'Transition to Critical from Non-recoverable', 'Transition to Non-recoverable', 'Monitor', 'Informational'],
  0x08: ['Device Absent', 'Device Present'],
  0x09: ['Device Disabled', 'Device Enabled'],
  0x0a: ['Transition to Running', 'Transition to In Test', 'Transition to Power Off', 'Transition to On Line', 'Transition to Off Line', 'Transition to Off Duty', 'Transition to Degraded', 'Transition to Power Save', 'Install Error'],
  0x0b: ['Fully Redundant', 'Redundancy Lost', 'Redundancy Degraded', 'Non-redundant: sufficient from redundant', 'Non-redundant: sufficient from insufficient', 'Non-redundant: insufficient resources', 'Redundancy Degraded from fully redundant', 'Redundancy Degraded from non-redundant'],
  0x0c: ['D0 Power State', 'D1 Power State', 'D2 Power State', 'D3 Power State'],
};

/** Sensor-specific offsets (event/reading type 0x6F), table 42-3, for the sensor types BMCs log most. */
const SENSOR_SPECIFIC: Record<number, readonly string[]> = {
  0x05: ['General Chassis intrusion', 'Drive Bay intrusion', 'I/O Card area intrusion', 'Processor area intrusion', 'System unplugged from LAN', 'Unauthorized dock', 'FAN area intrusion'],
  0x07: ['IERR', 'Thermal Trip', 'FRB1/BIST failure', 'FRB2/Hang in POST failure', 'FRB3/Processor startup failure', 'Configuration Error', 'Uncorrectable machine check', 'Presence detected', 'Disabled', 'Terminator presence detected', 'Throttled', 'Uncorrectable machine check', 'Correctable machine check'],
  0x08: ['Presence detected', 'Failure detected', 'Predictive failure', 'Power Supply AC lost', 'AC lost or out-of-range', 'AC out-of-range, but present', 'Configuration error', 'Inactive'],
  0x09: ['Power off/down', 'Power cycle', '240VA power down', 'Interlock power down', 'AC lost', 'Soft-power control failure', 'Failure detected', 'Predictive failure'],
  0x0c: ['Correctable ECC', 'Uncorrectable ECC', 'Parity', 'Memory Scrub Failed', 'Memory Device Disabled', 'Correctable ECC logging limit reached', 'Presence Detected', 'Configuration Error', 'Spare', 'Throttled', 'Critical Overtemperature'],
  0x0f: ['System Firmware Error', 'System Firmware Hang', 'System Firmware Progress'],
  0x10: ['Correctable memory error logging disabled', 'Event logging disabled', 'Log area reset/cleared', 'All event logging disabled', 'Log full', 'Log almost full'],
  0x12: ['System Reconfigured', 'OEM System boot event', 'Undetermined system hardware failure', 'Entry added to auxiliary log', 'PEF Action', 'Timestamp Clock Sync'],
  0x14: ['Power Button pressed', 'Sleep Button pressed', 'Reset Button pressed', 'FRU latch open', 'FRU service request button'],
  0x1d: ['Initiated by power up', 'Initiated by hard reset', 'Initiated by warm reset', 'User requested PXE boot', 'Automatic boot to diagnostic', 'OS / run-time software initiated hard reset', 'OS / run-time software initiated warm reset', 'System Restart'],
  0x1e: ['No bootable media', 'Non-bootable disk in drive', 'PXE server not found', 'Invalid boot sector', 'Timeout waiting for selection'],
  0x1f: ['A: boot completed', 'C: boot completed', 'PXE boot completed', 'Diagnostic boot completed', 'CD-ROM boot completed', 'ROM boot completed', 'boot completed - device not specified'],
  0x20: ['Critical stop during OS load', 'Run-time critical stop', 'OS graceful stop', 'OS graceful shutdown', 'PEF initiated soft shutdown', 'Agent not responding'],
  0x22: ['S0/G0: working', 'S1: sleeping with system h/w & processor context maintained', 'S2: sleeping, processor context lost', 'S3: sleeping, processor & h/w context lost, memory retained', 'S4: non-volatile sleep/suspend-to-disk', 'S5/G2: soft-off', 'S4/S5: soft-off', 'G3: mechanical off', 'Sleeping in S1/S2/S3', 'G1: sleeping', 'S5: entered by override', 'Legacy ON state', 'Legacy OFF state', 'Unknown'],
  0x23: ['Timer expired', 'Hard reset', 'Power down', 'Power cycle', 'reserved', 'reserved', 'reserved', 'reserved', 'Timer interrupt'],
  0x25: ['Device Present', 'Device Absent', 'Device Disabled'],
  0x29: ['Battery low', 'Battery failed', 'Battery presence detected'],
  0x2a: ['Session Activated', 'Session Deactivated', 'Invalid Username or Password', 'Invalid password disable'],
  0x2b: ['Hardware change detected', 'Firmware or software change detected', 'Hardware incompatibility detected', 'Firmware or software incompatibility detected', 'Invalid or unsupported hardware version', 'Invalid or unsupported firmware or software version', 'Hardware change success', 'Firmware or software change success'],
};

export function eventText(sensorType: number, eventType: number, eventData: Uint8Array): string {
  const offset = (eventData[0] ?? 0) & 0x0f;
  let table: readonly string[] | undefined;
  if (eventType === 0x01) table = THRESHOLD;
  else if (eventType === 0x6f) table = SENSOR_SPECIFIC[sensorType];
  else table = GENERIC[eventType];
  const text = table?.[offset];
  if (text !== undefined) return text;
  if (eventType >= 0x70 && eventType <= 0x7f) return `OEM event type 0x${eventType.toString(16)} offset ${offset}`;
  return `event type 0x${eventType.toString(16)} offset ${offset}`;
}
