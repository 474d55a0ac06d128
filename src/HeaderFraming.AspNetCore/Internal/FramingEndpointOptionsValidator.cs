using System;
using System.Threading;
using Microsoft.Extensions.Options;

namespace HeaderFraming.AspNetCore.Internal;

/// <summary>Checks what <see cref="FramingEndpointOptions"/>' setters do not.</summary>
internal sealed class FramingEndpointOptionsValidator : IValidateOptions<FramingEndpointOptions>
{
    public ValidateOptionsResult Validate(string? name, FramingEndpointOptions options)
    {
        TimeSpan threshold = options.SlowConsumerThreshold;
        if (threshold != Timeout.InfiniteTimeSpan && (threshold <= TimeSpan.Zero || threshold.TotalMilliseconds > int.MaxValue - 1))
        {
            return ValidateOptionsResult.Fail(
                $"HeaderFraming endpoint '{name}': SlowConsumerThreshold is {threshold}; it must be positive and under 24 days, or -00:00:00.001 (Timeout.InfiniteTimeSpan) to turn slow-consumer detection off.");
        }

        return ValidateOptionsResult.Success;
    }
}
