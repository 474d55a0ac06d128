using System;
using HeaderFraming.AspNetCore.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace HeaderFraming.AspNetCore;

/// <summary>Configures the framed endpoints' options, by endpoint name; returned by
/// <see cref="HeaderFramingServiceCollectionExtensions.AddHeaderFraming(IServiceCollection)"/>.</summary>
public sealed class HeaderFramingBuilder
{
    internal HeaderFramingBuilder(IServiceCollection services) => Services = services;

    /// <summary>The application's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Configures the endpoint named <paramref name="endpointName"/> in code (after any configuration binding) and
    /// validates its options when the host starts.</summary>
    /// <param name="endpointName">The name given to <c>UseFraming</c>.</param>
    /// <param name="configure">Changes the connections' options; <see langword="null"/> to only validate them at start-up.</param>
    /// <param name="configureEndpoint">Changes the endpoint's hosting options; <see langword="null"/> for none.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpointName"/> is <see langword="null"/>.</exception>
    public HeaderFramingBuilder AddEndpoint(string endpointName, Action<FramedConnectionOptions>? configure = null, Action<FramingEndpointOptions>? configureEndpoint = null)
    {
        ArgumentNullException.ThrowIfNull(endpointName);
        OptionsBuilder<FramedConnectionOptions> connection = Services.AddOptions<FramedConnectionOptions>(endpointName).ValidateOnStart();
        OptionsBuilder<FramingEndpointOptions> endpoint = Services.AddOptions<FramingEndpointOptions>(endpointName).ValidateOnStart();
        if (configure is not null)
        {
            connection.Configure(configure);
        }

        if (configureEndpoint is not null)
        {
            endpoint.Configure(configureEndpoint);
        }

        return this;
    }

    /// <summary>Binds the endpoint named <paramref name="endpointName"/> from <paramref name="section"/> (both its
    /// <see cref="FramedConnectionOptions"/> and its <see cref="FramingEndpointOptions"/>, e.g.
    /// <c>{ "SegmentSize": 16384, "Reader": { "MaxFrameLength": 65536, "IdleTimeout": "00:05:00" }, "SlowConsumerThreshold": "00:00:10" }</c>)
    /// and validates them when the host starts: a value that does not convert or is out of range fails the start with an
    /// <see cref="OptionsValidationException"/> that names the configuration key.</summary>
    /// <param name="endpointName">The name given to <c>UseFraming</c>.</param>
    /// <param name="section">The endpoint's configuration section.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public HeaderFramingBuilder AddEndpoint(string endpointName, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(endpointName);
        ArgumentNullException.ThrowIfNull(section);
        Services.AddSingleton<IConfigureOptions<FramedConnectionOptions>>(new ConfigurationBinding<FramedConnectionOptions>(endpointName, section));
        Services.AddSingleton<IConfigureOptions<FramingEndpointOptions>>(new ConfigurationBinding<FramingEndpointOptions>(endpointName, section));
        Services.AddSingleton<IOptionsChangeTokenSource<FramedConnectionOptions>>(new ConfigurationChangeTokenSource<FramedConnectionOptions>(endpointName, section));
        Services.AddSingleton<IOptionsChangeTokenSource<FramingEndpointOptions>>(new ConfigurationChangeTokenSource<FramingEndpointOptions>(endpointName, section));
        return AddEndpoint(endpointName);
    }
}
