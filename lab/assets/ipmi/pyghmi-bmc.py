#!/usr/bin/python3
"""An independent IPMI BMC for the lab: Debian's python3-pyghmi (pyghmi.ipmi.bmc.Bmc).

What pyghmi's BMC does by itself is what the tests want from it: it answers an
Open Session for any cipher suite with status 0 and suite 3's algorithms, it
has no Get Payload Instance Info (0x4B answers 0xC1) and no SDR repository.
This subclass adds power state, a SEL with two entries (Get SEL Info, Reserve
SEL, Get SEL Entry; IPMI v2.0 §31) and SOL that echoes what it receives.

Usage: pyghmi-bmc.py PORT USER PASSWORD  (prints "ready PORT" when listening)
"""
import struct
import sys
import time

import pyghmi.ipmi.bmc as bmc

# | record ID (2 LE) | type 0x02 | timestamp (4 LE) | generator (2) | EvM rev | sensor type | sensor number | event dir/type | data 1-3 |
SEL = [
    struct.pack('<HBIHBBBBBBB', 1, 0x02, int(time.time()) - 60, 0x20, 0x04, 0x09, 0x30, 0x6f, 0x00, 0xff, 0xff),  # power unit: power off
    struct.pack('<HBIHBBBBBBB', 2, 0x02, int(time.time()), 0x20, 0x04, 0x22, 0x31, 0x6f, 0x00, 0xff, 0xff),  # ACPI: S0/G0 working
]


class LabBmc(bmc.Bmc):
    def __init__(self, authdata, port):
        super().__init__(authdata, port=port, address='127.0.0.1')
        self.powerstate = 'on'
        self.iohandler = self.echo

    def echo(self, data):
        if self.sol is not None:
            self.sol.send_data(data)

    def get_power_state(self):
        return self.powerstate

    def power_off(self):
        self.powerstate = 'off'

    def power_on(self):
        self.powerstate = 'on'

    def power_reset(self):
        pass

    def is_active(self):
        return self.powerstate == 'on'

    def handle_raw_request(self, request, session):
        if request['netfn'] == 0x0a:
            command = request['command']
            if command == 0x40:  # Get SEL Info
                return session.send_ipmi_response(data=[0x51, len(SEL), 0, 0, 2] + [0] * 8 + [0x02])
            if command == 0x42:  # Reserve SEL
                return session.send_ipmi_response(data=[1, 0])
            if command == 0x43:  # Get SEL Entry
                wanted = request['data'][2] | (request['data'][3] << 8)
                index = 0 if wanted == 0 else len(SEL) - 1 if wanted == 0xffff else wanted - 1
                if index < 0 or index >= len(SEL):
                    return session.send_ipmi_response(code=0xcb)
                following = 0xffff if index + 1 >= len(SEL) else index + 2
                return session.send_ipmi_response(data=[following & 0xff, following >> 8] + list(SEL[index]))
        return super().handle_raw_request(request, session)


if __name__ == '__main__':
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = LabBmc({user: password}, port)
    print('ready', port, flush=True)
    server.listen()
