/*
 * lightsout_ipmi_sim_plugin.c - ipmi_sim (OpenIPMI lanserv) plug-in loaded by
 * the Lightsout IPMI lab (lan.conf: loadlib "<path>.so" "").
 *
 * 1. Get Channel Payload Support (App 0x4E). ipmi_sim indexes its channel
 *    table with the raw channel byte; FreeIPMI sends 0x0E ("the channel this
 *    request came in on"), the slot is NULL and ipmi_sim crashes. We answer
 *    the command ourselves, resolving 0x0E to the receiving channel.
 *
 * 2. Stale SOL sequence (compiled only with -DLIGHTSOUT_OPENIPMI_2_0_33, the
 *    version whose private struct layout was measured). ipmi_sim keeps the
 *    sequence number of the last SOL packet it acknowledged across payload
 *    activations, so the first packet of the next session is taken for a
 *    duplicate when it reuses that number, acknowledged and thrown away. We
 *    wrap Activate Payload (App 0x48) and, after a successful SOL instance 1
 *    activation, clear that number. Before writing we check the fields we
 *    read are plausible (owner pointer, descriptor, ranges); if anything
 *    looks wrong the fix switches itself off and logs why.
 *
 * 3. SOL resend counter (same layout guard as 2). ipmi_sim resets its "sends
 *    of this packet" counter only when output starts from an empty buffer,
 *    not when an ACK moves it on to the next packet. During a long burst the
 *    counter keeps growing, and after the fifth lost packet of the burst
 *    ipmi_sim throws its whole output buffer (up to 16 KiB) away. We wrap the
 *    SOL payload handler and clear the counter whenever an ACK advances the
 *    packet sequence, which is what the counter means.
 *
 * 4. System boot options (Chassis 0x08 / 0x09). Without an external
 *    chassis_control program ipmi_sim answers 0xCC to both, and even with
 *    one it keeps only the device and drops the valid, persistent and EFI
 *    bits. We keep parameters 0, 4 and 5 as the bytes the client wrote and
 *    read them back in the §28.13 response layout.
 *
 * Build: gcc -shared -fPIC -O2 -Wall [-DLIGHTSOUT_OPENIPMI_2_0_33] -o plugin.so lightsout_ipmi_sim_plugin.c
 */
#include <string.h>
#include <OpenIPMI/serv.h>
#include <OpenIPMI/mcserv.h>
#include <OpenIPMI/lanserv.h>

enum {
    NETFN_APP = 0x06,
    CMD_ACTIVATE_PAYLOAD = 0x48,
    CMD_GET_CHANNEL_PAYLOAD_SUPPORT = 0x4e,
    CC_REQUEST_LENGTH_INVALID = 0xc7,
    CC_INVALID_DATA_FIELD = 0xcc,
    PAYLOAD_SOL = 1,
    CHANNEL_THIS = 0x0e
};

/* Exported by the ipmi_sim executable, not declared in its public headers. */
extern channel_t **is_mc_get_channelset(lmc_data_t *mc);

static sys_data_t *plugin_sys;

static void
get_channel_payload_support(lmc_data_t *mc, msg_t *msg, unsigned char *rdata,
                            unsigned int *rdata_len, void *cb_data)
{
    channel_t **channels = is_mc_get_channelset(mc);
    channel_t *channel = NULL;
    unsigned int number;

    (void) cb_data;
    if (msg->len < 1) {
        rdata[0] = CC_REQUEST_LENGTH_INVALID;
        *rdata_len = 1;
        return;
    }
    number = msg->data[0] & 0x0f;
    if (number == CHANNEL_THIS && msg->orig_channel != NULL)
        number = msg->orig_channel->channel_num;
    if (number < IPMI_MAX_CHANNELS)
        channel = channels[number];
    if (channel == NULL) {
        rdata[0] = CC_INVALID_DATA_FIELD;
        *rdata_len = 1;
        return;
    }
    /* Standard payloads supported: bit 0 IPMI, bit 1 SOL (IPMI v2.0 §24.8). */
    memset(rdata, 0, 9);
    rdata[1] = 0x01 | 0x02;
    *rdata_len = 9;
}

enum { NETFN_CHASSIS = 0x00, CMD_SET_BOOT_OPTIONS = 0x08, CMD_GET_BOOT_OPTIONS = 0x09, CC_PARAMETER_NOT_SUPPORTED = 0x80 };

/* Parameter selector -> data length we store (0 = unsupported). */
static const unsigned int boot_parameter_length[8] = { 1, 0, 0, 0, 2, 5, 0, 0 };
static unsigned char boot_parameters[8][5];

/*
 * The checks Set and Get System Boot Options share (IPMI v2.0 §28.12–§28.13):
 * the request has at least `min_length` bytes and selects a parameter we
 * store. Returns that parameter's stored length, or 0 after writing the
 * one-byte error response (request length invalid / parameter not supported).
 */
static unsigned int
boot_parameter_of(msg_t *msg, unsigned int min_length, unsigned int *parameter, unsigned char *rdata, unsigned int *rdata_len)
{
    unsigned int length;

    *rdata_len = 1;
    if (msg->len < min_length) {
        rdata[0] = CC_REQUEST_LENGTH_INVALID;
        return 0;
    }
    *parameter = msg->data[0] & 0x7f;
    length = *parameter < 8 ? boot_parameter_length[*parameter] : 0;
    if (length == 0)
        rdata[0] = CC_PARAMETER_NOT_SUPPORTED;
    return length;
}

static void
set_boot_options(lmc_data_t *mc, msg_t *msg, unsigned char *rdata, unsigned int *rdata_len, void *cb_data)
{
    unsigned int parameter, length;

    (void) mc;
    (void) cb_data;
    length = boot_parameter_of(msg, 1, &parameter, rdata, rdata_len);
    if (length == 0)
        return;
    if (msg->len < 1 + length) {
        rdata[0] = CC_REQUEST_LENGTH_INVALID;
        return;
    }
    memcpy(boot_parameters[parameter], msg->data + 1, length);
    rdata[0] = 0;
}

static void
get_boot_options(lmc_data_t *mc, msg_t *msg, unsigned char *rdata, unsigned int *rdata_len, void *cb_data)
{
    unsigned int parameter, length;

    (void) mc;
    (void) cb_data;
    length = boot_parameter_of(msg, 3, &parameter, rdata, rdata_len);
    if (length == 0)
        return;
    rdata[0] = 0;
    rdata[1] = 0x01;          /* parameter version */
    rdata[2] = parameter;     /* bit 7 clear: parameter valid/unlocked */
    memcpy(rdata + 3, boot_parameters[parameter], length);
    *rdata_len = 3 + length;
}

#ifdef LIGHTSOUT_OPENIPMI_2_0_33
extern cmd_handler_f app_netfn_handlers[256];
extern void *is_mc_get_sol(lmc_data_t *mc);

/* Field offsets in OpenIPMI 2.0.33 lanserv (x86_64): ipmi_sol_t and its soldata_t. */
static const size_t SOL_ACTIVE = 80, SOL_DATA = 120;
static const size_t DATA_FD = 0, DATA_SYS = 8, DATA_LAST_ACKED = 16856, DATA_LAST_ACKED_LENGTH = 16860, DATA_CURRENT_SEQ = 16864, DATA_NUM_SENDS = 16880;

/* lanserv's payload dispatch table (exported by libIPMIlanserv). */
extern ipmi_payload_handler_cb payload_handlers[64];
static ipmi_payload_handler_cb stock_sol_payload;

static cmd_handler_f stock_activate_payload;
static int sequence_fix_off;

static int
read_int(const unsigned char *base, size_t offset)
{
    int value;
    memcpy(&value, base + offset, sizeof value);
    return value;
}

static void
forget_last_acked_packet(lmc_data_t *mc)
{
    unsigned char *sol = is_mc_get_sol(mc), *data = NULL;
    sys_data_t *owner = NULL;
    int fd, active, last, current;
    const int zero = 0;

    if (sequence_fix_off || sol == NULL)
        return;
    memcpy(&data, sol + SOL_DATA, sizeof data);
    if (data == NULL)
        return;
    memcpy(&owner, data + DATA_SYS, sizeof owner);
    fd = read_int(data, DATA_FD);
    active = read_int(sol, SOL_ACTIVE);
    last = read_int(data, DATA_LAST_ACKED);
    current = read_int(data, DATA_CURRENT_SEQ);
    if (owner != plugin_sys || fd < -1 || active != 1 || last < 0 || last > 15 || current < 1 || current > 15) {
        sequence_fix_off = 1;
        plugin_sys->log(plugin_sys, OS_ERROR, NULL,
                        "lightsout plugin: unexpected SOL layout (owner %s fd %d active %d last %d current %d); sequence fix off",
                        owner == plugin_sys ? "ok" : "mismatch", fd, active, last, current);
        return;
    }
    memcpy(data + DATA_LAST_ACKED, &zero, sizeof zero);
    memcpy(data + DATA_LAST_ACKED_LENGTH, &zero, sizeof zero);
}

/* The live soldata of `mc` when its layout looks like the one we measured, else NULL. */
static unsigned char *
checked_sol_data(lmc_data_t *mc)
{
    unsigned char *sol = is_mc_get_sol(mc), *data = NULL;
    sys_data_t *owner = NULL;
    int current;

    if (sequence_fix_off || sol == NULL)
        return NULL;
    memcpy(&data, sol + SOL_DATA, sizeof data);
    if (data == NULL)
        return NULL;
    memcpy(&owner, data + DATA_SYS, sizeof owner);
    current = read_int(data, DATA_CURRENT_SEQ);
    if (owner != plugin_sys || current < 1 || current > 15)
        return NULL;
    return data;
}

static void
sol_payload(lanserv_data_t *lan, msg_t *msg)
{
    lmc_data_t *mc = lan->channel.get_associated_mc(&lan->channel, msg->sid, PAYLOAD_SOL);
    unsigned char *data = mc != NULL ? checked_sol_data(mc) : NULL;
    int before = data != NULL ? read_int(data, DATA_CURRENT_SEQ) : 0;
    const unsigned int zero = 0;

    stock_sol_payload(lan, msg);
    if (data != NULL && read_int(data, DATA_CURRENT_SEQ) != before)
        memcpy(data + DATA_NUM_SENDS, &zero, sizeof zero);
}

static void
activate_payload(lmc_data_t *mc, msg_t *msg, unsigned char *rdata, unsigned int *rdata_len, void *cb_data)
{
    stock_activate_payload(mc, msg, rdata, rdata_len, cb_data);
    if (*rdata_len >= 1 && rdata[0] == 0 && msg->len >= 2 && (msg->data[0] & 0x3f) == PAYLOAD_SOL && (msg->data[1] & 0x0f) == 1) {
        forget_last_acked_packet(mc);
        /* SOL registers its payload handler after plug-ins load, so wrap it at first activation. */
        if (stock_sol_payload == NULL && payload_handlers[PAYLOAD_SOL] != NULL && payload_handlers[PAYLOAD_SOL] != sol_payload) {
            stock_sol_payload = payload_handlers[PAYLOAD_SOL];
            payload_handlers[PAYLOAD_SOL] = sol_payload;
        }
    }
}
#endif

int
ipmi_sim_module_print_version(sys_data_t *sys, char *initstr)
{
    (void) initstr;
    sys->log(sys, INFO, NULL, "lightsout ipmi_sim plugin 1");
    return 0;
}

int
ipmi_sim_module_init(sys_data_t *sys, const char *initstr)
{
    int error;

    (void) initstr;
    plugin_sys = sys;
    error = ipmi_emu_register_cmd_handler(NETFN_APP, CMD_GET_CHANNEL_PAYLOAD_SUPPORT, get_channel_payload_support, NULL);
    if (error)
        return error;
    error = ipmi_emu_register_cmd_handler(NETFN_CHASSIS, CMD_SET_BOOT_OPTIONS, set_boot_options, NULL);
    if (!error)
        error = ipmi_emu_register_cmd_handler(NETFN_CHASSIS, CMD_GET_BOOT_OPTIONS, get_boot_options, NULL);
    if (error)
        return error;
#ifdef LIGHTSOUT_OPENIPMI_2_0_33
    stock_activate_payload = app_netfn_handlers[CMD_ACTIVATE_PAYLOAD];
    if (stock_activate_payload != NULL)
        error = ipmi_emu_register_cmd_handler(NETFN_APP, CMD_ACTIVATE_PAYLOAD, activate_payload, NULL);
#endif
    return error;
}
